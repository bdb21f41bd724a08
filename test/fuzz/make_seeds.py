#!/usr/bin/env python3
"""Write the binary seed inputs of test/fuzz/corpus/ (calendar, triage).

The text seeds (tokenize, sentiment, rules) are written by hand; these two
harnesses read binary fields, so their seeds are built here, field by field
in the order the harness consumes them (shim.h: fuzz_u8, fuzz_range).

    python3 test/fuzz/make_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
DAY = 86400


def rng(lo, hi, value):
    """fuzz_range(lo, hi) reading `value`: 4 bytes, or 8 for wide spans."""
    span = hi - lo + 1
    v = value - lo
    assert 0 <= v < span
    if span > 0xFFFFFFFF:
        return struct.pack('>Q', v)
    return struct.pack('>I', v)


def u8(v):
    return bytes([v])


def write(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def calendar(name, base_day, transitions, offsets, periods, holidays, questions):
    """offsets: seconds (multiples of 900 are written as such); transitions:
    gaps in seconds between them."""
    out = rng(0, 30 * 365 * DAY, base_day * DAY)
    out += u8(len(transitions))
    out += rng(0, 60 * DAY, 30 * DAY)
    for i, off in enumerate(offsets):
        quarter = off % 900 == 0
        short = i < len(transitions) and transitions[i] <= 2 * DAY
        out += u8((1 if quarter else 0) | (2 if short else 0))
        out += rng(-56, 56, off // 900) if quarter else rng(-57599, 57599, off)
        if i < len(transitions):
            gap = transitions[i]
            out += rng(3600, 2 * DAY, gap) if short else rng(DAY, 200 * DAY, gap)
    out += u8(len(periods))
    for wd, s, e in periods:
        out += u8(wd) + rng(0, 1439, s) + rng(0, 1440, e)
    out += u8(len(holidays))
    for d, rec in holidays:
        out += rng(-400, 400, d) + u8(1 if rec else 0)
    usec = 1000000
    for kind, day_from, arg in questions:
        out += u8(kind) + rng(-40 * DAY, 400 * DAY, day_from * DAY)
        if kind % 4 == 0:
            out += rng(-70 * DAY * usec, 70 * DAY * usec, arg)
        elif kind % 4 == 1:
            out += rng(-4 * 365 * DAY * usec, 4 * 365 * DAY * usec, arg)
        elif kind % 4 == 2:
            out += rng(0, 3 * DAY * usec, arg)
        else:
            out += rng(0, 400 * DAY * usec, arg)
    write('calendar', name, out)


def main():
    usec = 1000000
    office = [(wd, 9 * 60, 17 * 60) for wd in range(1, 6)]
    questions = [(0, 1, 10 * DAY * usec), (1, 3, 400 * DAY * usec), (2, 2, 9 * 3600 * usec),
                 (3, 5, 30 * DAY * usec), (0, 60, -20 * DAY * usec), (2, 75, 20 * 3600 * usec)]
    # Europe/Berlin-like: +1h, +2h from day ~60 (a Sunday 01:00 UTC) to ~270
    calendar('office_dst', 24 * 365 + 30, [60 * DAY + 3600, 200 * DAY], [3600, 7200, 3600],
             office, [(10, False), (100, True)], questions)
    # night shift across midnight and across a fall-back transition, LMT-like offset
    calendar('night_shift', 9000, [40 * DAY, 3 * 3600], [3208, -14400, -18000],
             [(5, 22 * 60, 6 * 60), (6, 22 * 60, 6 * 60), (0, 0, 1440)],
             [(41, False)], questions)
    # Feb 29 holiday every year, 24x7 in a fixed zone
    triage_seeds()
    calendar('leap_holiday', 366 * 4 + 59, [], [19800],
             [(wd, 0, 1440) for wd in range(7)], [(0, True)], questions)


def triage_model(features, classes, weights, has_escalation=True, grams=None):
    """A stored model as esc_triage_serialize writes it (little-endian).

    Without grams, extension 1.0's form (ESCTRI1); with grams (features
    "~gram", after the words, read by the escalation model only), the
    current one (ESCTRI2)."""
    W, K = len(features), len(classes)
    if grams is None:
        V = W
        out = b'ESCTRI1\0' + struct.pack('<3i', V, K, 1 if has_escalation else 0)
    else:
        features = features + grams
        V = len(features)
        out = b'ESCTRI2\0' + struct.pack('<4i', V, W, K, 1 if has_escalation else 0)
    out += struct.pack('<3d', 1.7, -2.5, 0.3) + struct.pack('<f', -0.2)
    out += struct.pack('<%df' % V, *[1.0 + 0.25 * i for i in range(V)])      # idf
    out += struct.pack('<%df' % (W * K), *weights)                          # w, feature-major
    out += struct.pack('<%df' % K, *[0.1 * k for k in range(K)])             # b
    if has_escalation:
        out += struct.pack('<%df' % V, *[0.5 - 0.1 * i for i in range(V)])   # we
    for c in classes:
        out += c.encode() + b'\0'
    for f in features:
        out += f.encode() + b'\0'
    return out


def triage(name, model, priority, channel, tier, text, cfg=0):
    out = u8(cfg) + struct.pack('>H', len(model)) + model
    out += (priority + '\n' + channel + '\n' + tier + '\n' + text).encode()
    write('triage', name, out)


def triage_seeds():
    features = ['refund', 'invoice', 'refund invoice', 'login', 'password', 'login password',
                'crash', 'priority=high', 'channel=email', 'tier=gold']
    classes = ['billing', 'tech', 'accounts']
    w = []
    for f in features:
        w += [1.5 if ('refund' in f or 'invoice' in f) else -0.2,
              1.2 if 'crash' in f else 0.0,
              1.4 if ('login' in f or 'password' in f) else -0.1]
    model = triage_model(features, classes, w)
    triage('billing', model, 'high', 'email', 'gold',
           'Refund for invoice 1234 please, the invoice was charged twice')
    triage('accounts', model, '', 'web', '',
           'I cannot login: password reset mail never arrives. Login password login!')
    triage('no_escalation', triage_model(features[:3], classes[:1], [0.3, 0.2, 0.1], False),
           'low', '', 'silver', 'app crash on start', cfg=1)
    grams = ['~_pa', '~pas', '~pass', '~_pass', '~swor', '~wor', '~_re', '~ref', '~und_',
             '~d_i', '~\u00fc\u00df']
    triage('grams', triage_model(features, classes, w, grams=grams), '', 'email', '',
           'Pasword reset / Refund inv\u00fc\u00dfice\nthe body is not read for grams: password')


if __name__ == '__main__':
    main()
