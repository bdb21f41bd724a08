-- Contract of the escalation extension: its tables, functions and their
-- signatures, keys, privileges per role, and search_path pinning.
\set ON_ERROR_STOP true
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS escalation;
RESET client_min_messages;

BEGIN;
SELECT plan(267);
-- tables
SELECT has_schema('escalation');
SELECT tables_are('escalation', ARRAY['accounts', 'agent_skills', 'agents', 'calendar_holidays', 'calendar_hours', 'calendars', 'escalations', 'events', 'first_responses', 'rules', 'skills', 'sources', 'teams']);
SELECT has_table('escalation', 'accounts', 'table escalation.accounts exists');
SELECT has_table('escalation', 'agent_skills', 'table escalation.agent_skills exists');
SELECT has_table('escalation', 'agents', 'table escalation.agents exists');
SELECT has_table('escalation', 'calendar_holidays', 'table escalation.calendar_holidays exists');
SELECT has_table('escalation', 'calendar_hours', 'table escalation.calendar_hours exists');
SELECT has_table('escalation', 'calendars', 'table escalation.calendars exists');
SELECT has_table('escalation', 'escalations', 'table escalation.escalations exists');
SELECT has_table('escalation', 'events', 'table escalation.events exists');
SELECT has_table('escalation', 'first_responses', 'table escalation.first_responses exists');
SELECT has_table('escalation', 'rules', 'table escalation.rules exists');
SELECT has_table('escalation', 'skills', 'table escalation.skills exists');
SELECT has_table('escalation', 'sources', 'table escalation.sources exists');
SELECT has_table('escalation', 'teams', 'table escalation.teams exists');

-- functions, with their signatures
SELECT functions_are('escalation', ARRAY['accept', 'attach', 'business_add', 'business_periods', 'business_time', 'cancel', 'check_column', 'check_lookup', 'check_transition', 'detach', 'escalate', 'escalation_valid', 'event_valid', 'explain', 'invalidate_cache', 'invert_value_map', 'is_clean_text_array', 'is_time_zone', 'is_zone_name', 'keyword_lexemes', 'match_keywords', 'merge_reasons', 'message_trigger', 'record_event', 'resolve', 'set_status', 'target_key', 'ticket_context', 'ticket_trigger', 'transition_allowed', 'validate_calendar_hours', 'validate_rule']);
SELECT has_function('escalation', 'accept', ARRAY['bigint', 'text', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'attach', ARRAY['regclass', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'jsonb', 'regclass', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'regconfig', 'text', 'text']::name[]);
SELECT has_function('escalation', 'business_add', ARRAY['text', 'timestamp with time zone', 'interval']::name[]);
SELECT has_function('escalation', 'business_periods', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'business_time', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'cancel', ARRAY['bigint', 'text', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'check_column', ARRAY['regclass', 'text', 'text', 'text[]']::name[]);
SELECT has_function('escalation', 'check_lookup', ARRAY['text', 'jsonb']::name[]);
SELECT has_function('escalation', 'check_transition', ARRAY[]::name[]);
SELECT has_function('escalation', 'detach', ARRAY['regclass']::name[]);
SELECT has_function('escalation', 'escalate', ARRAY['regclass', 'text', 'text', 'text[]', 'integer', 'text', 'integer', 'text', 'jsonb', 'integer', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'explain', ARRAY['regclass', 'text', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'invalidate_cache', ARRAY[]::name[]);
SELECT has_function('escalation', 'invert_value_map', ARRAY['text', 'jsonb', 'text[]']::name[]);
SELECT has_function('escalation', 'is_clean_text_array', ARRAY['text[]']::name[]);
SELECT has_function('escalation', 'is_time_zone', ARRAY['text']::name[]);
SELECT has_function('escalation', 'is_zone_name', ARRAY['text']::name[]);
SELECT has_function('escalation', 'keyword_lexemes', ARRAY['text', 'regconfig']::name[]);
SELECT has_function('escalation', 'match_keywords', ARRAY['text', 'text[]', 'regconfig']::name[]);
SELECT has_function('escalation', 'merge_reasons', ARRAY['jsonb', 'jsonb']::name[]);
SELECT has_function('escalation', 'escalation_valid', ARRAY['integer', 'text', 'text', 'integer', 'text', 'jsonb']::name[]);
SELECT has_function('escalation', 'event_valid', ARRAY['text']::name[]);
SELECT has_function('escalation', 'message_trigger', ARRAY[]::name[]);
SELECT has_function('escalation', 'record_event', ARRAY[]::name[]);
SELECT has_function('escalation', 'resolve', ARRAY['bigint', 'text', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'set_status', ARRAY['bigint', 'text', 'text', 'text', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'target_key', ARRAY['text', 'text[]', 'integer']::name[]);
SELECT has_function('escalation', 'ticket_context', ARRAY['integer', 'text']::name[]);
SELECT has_function('escalation', 'ticket_trigger', ARRAY[]::name[]);
SELECT has_function('escalation', 'transition_allowed', ARRAY['text', 'text']::name[]);
SELECT has_function('escalation', 'validate_calendar_hours', ARRAY[]::name[]);
SELECT has_function('escalation', 'validate_rule', ARRAY[]::name[]);
SELECT function_returns('escalation', 'attach', ARRAY['regclass', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'jsonb', 'regclass', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'regconfig', 'text', 'text']::name[], 'integer');
SELECT function_returns('escalation', 'escalate', ARRAY['regclass', 'text', 'text', 'text[]', 'integer', 'text', 'integer', 'text', 'jsonb', 'integer', 'timestamp with time zone']::name[], 'bigint');
SELECT function_returns('escalation', 'explain', ARRAY['regclass', 'text', 'timestamp with time zone']::name[], 'setof record');
SELECT function_returns('escalation', 'ticket_context', ARRAY['integer', 'text']::name[], 'jsonb');
SELECT function_returns('escalation', 'accept', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation.escalations');
SELECT function_returns('escalation', 'business_add', ARRAY['text', 'timestamp with time zone', 'interval']::name[], 'timestamp with time zone');
SELECT function_returns('escalation', 'business_time', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'interval');
SELECT function_returns('escalation', 'business_periods', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'setof record');
SELECT volatility_is('escalation', 'business_add', ARRAY['text', 'timestamp with time zone', 'interval']::name[], 'stable');
SELECT volatility_is('escalation', 'business_time', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'stable');
SELECT volatility_is('escalation', 'business_periods', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'stable');
SELECT isnt_strict('escalation', 'business_add', ARRAY['text', 'timestamp with time zone', 'interval']::name[]);
SELECT isnt_strict('escalation', 'business_time', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[]);

-- keys
SELECT col_is_pk('escalation', 'teams', 'name', 'escalation.teams is keyed by name');
SELECT col_is_pk('escalation', 'agents', 'agent_id', 'escalation.agents is keyed by agent_id');
SELECT col_is_pk('escalation', 'skills', 'name', 'escalation.skills is keyed by name');
SELECT col_is_pk('escalation', 'accounts', 'account_key', 'escalation.accounts is keyed by account_key');
SELECT col_is_pk('escalation', 'sources', 'source_id', 'escalation.sources is keyed by source_id');
SELECT col_is_pk('escalation', 'rules', 'rule_id', 'escalation.rules is keyed by rule_id');
SELECT col_is_pk('escalation', 'escalations', 'escalation_id', 'escalation.escalations is keyed by escalation_id');
SELECT col_is_pk('escalation', 'events', 'event_id', 'escalation.events is keyed by event_id');
SELECT col_is_pk('escalation', 'agent_skills', ARRAY['agent_id', 'skill'], 'escalation.agent_skills is keyed by agent and skill');
SELECT col_is_pk('escalation', 'first_responses', ARRAY['source_id', 'ticket_key'], 'escalation.first_responses is keyed by source and ticket');
SELECT col_not_null('escalation', 'escalations', 'source_id', 'escalation.escalations.source_id is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'ticket_key', 'escalation.escalations.ticket_key is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'level', 'escalation.escalations.level is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'kind', 'escalation.escalations.kind is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'origin', 'escalation.escalations.origin is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'status', 'escalation.escalations.status is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'severity', 'escalation.escalations.severity is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'reasons', 'escalation.escalations.reasons is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'context', 'escalation.escalations.context is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'created_at', 'escalation.escalations.created_at is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'updated_at', 'escalation.escalations.updated_at is NOT NULL');
SELECT col_not_null('escalation', 'events', 'escalation_id', 'escalation.events.escalation_id is NOT NULL');
SELECT col_not_null('escalation', 'events', 'source_id', 'escalation.events.source_id is NOT NULL');
SELECT col_not_null('escalation', 'events', 'ticket_key', 'escalation.events.ticket_key is NOT NULL');
SELECT col_not_null('escalation', 'events', 'event', 'escalation.events.event is NOT NULL');
SELECT col_not_null('escalation', 'events', 'to_status', 'escalation.events.to_status is NOT NULL');
SELECT col_not_null('escalation', 'events', 'at', 'escalation.events.at is NOT NULL');
SELECT col_not_null('escalation', 'sources', 'name', 'escalation.sources.name is NOT NULL');
SELECT col_not_null('escalation', 'sources', 'ticket_table', 'escalation.sources.ticket_table is NOT NULL');
SELECT col_not_null('escalation', 'sources', 'mapping', 'escalation.sources.mapping is NOT NULL');
SELECT col_not_null('escalation', 'sources', 'value_maps', 'escalation.sources.value_maps is NOT NULL');
SELECT col_not_null('escalation', 'sources', 'lookups', 'escalation.sources.lookups is NOT NULL');
SELECT col_not_null('escalation', 'sources', 'ts_config', 'escalation.sources.ts_config is NOT NULL');
SELECT col_not_null('escalation', 'sources', 'time_zone', 'escalation.sources.time_zone is NOT NULL');
SELECT col_not_null('escalation', 'sources', 'attached', 'escalation.sources.attached is NOT NULL');
SELECT col_not_null('escalation', 'rules', 'name', 'escalation.rules.name is NOT NULL');
SELECT col_not_null('escalation', 'rules', 'enabled', 'escalation.rules.enabled is NOT NULL');
SELECT col_not_null('escalation', 'rules', 'applies_to', 'escalation.rules.applies_to is NOT NULL');
SELECT col_not_null('escalation', 'rules', 'case_sensitive', 'escalation.rules.case_sensitive is NOT NULL');
SELECT col_not_null('escalation', 'rules', 'kind', 'escalation.rules.kind is NOT NULL');
SELECT col_not_null('escalation', 'rules', 'severity', 'escalation.rules.severity is NOT NULL');
SELECT col_not_null('escalation', 'rules', 'level', 'escalation.rules.level is NOT NULL');
SELECT col_not_null('escalation', 'first_responses', 'responded_at', 'escalation.first_responses.responded_at is NOT NULL');
SELECT col_not_null('escalation', 'agents', 'capacity', 'escalation.agents.capacity is NOT NULL');
SELECT col_not_null('escalation', 'agents', 'languages', 'escalation.agents.languages is NOT NULL');
SELECT col_not_null('escalation', 'agents', 'time_zone', 'escalation.agents.time_zone is NOT NULL');
SELECT col_not_null('escalation', 'agents', 'availability', 'escalation.agents.availability is NOT NULL');
SELECT col_not_null('escalation', 'agents', 'active', 'escalation.agents.active is NOT NULL');
SELECT col_not_null('escalation', 'accounts', 'tier', 'escalation.accounts.tier is NOT NULL');
SELECT col_not_null('escalation', 'accounts', 'vip', 'escalation.accounts.vip is NOT NULL');
SELECT has_index('escalation', 'escalations', 'escalations_one_open', ARRAY['source_id', 'ticket_key', 'level', 'target_key']);
SELECT index_is_unique('escalation', 'escalations', 'escalations_one_open');
SELECT index_is_unique('escalation', 'sources', 'sources_attached_table');
SELECT index_is_unique('escalation', 'sources', 'sources_attached_name');
SELECT fk_ok('escalation', 'rules', 'target_team', 'escalation', 'teams', 'name');
SELECT col_is_pk('escalation', 'calendars', 'calendar_id', 'escalation.calendars is keyed by calendar_id');
SELECT col_is_pk('escalation', 'calendar_hours', ARRAY['calendar_id', 'weekday', 'starts'], 'escalation.calendar_hours is keyed by calendar, weekday and start');
SELECT col_is_pk('escalation', 'calendar_holidays', ARRAY['calendar_id', 'day'], 'escalation.calendar_holidays is keyed by calendar and day');
SELECT fk_ok('escalation', 'calendar_hours', 'calendar_id', 'escalation', 'calendars', 'calendar_id');
SELECT fk_ok('escalation', 'calendar_holidays', 'calendar_id', 'escalation', 'calendars', 'calendar_id');

-- triggers on the extension's own tables
SELECT has_trigger('escalation', 'escalations', 'check_transition', 'escalation.escalations has trigger check_transition');
SELECT has_trigger('escalation', 'escalations', 'record_event', 'escalation.escalations has trigger record_event');
SELECT has_trigger('escalation', 'rules', 'validate_rule', 'escalation.rules has trigger validate_rule');
SELECT has_trigger('escalation', 'rules', 'invalidate_cache', 'escalation.rules has trigger invalidate_cache');
SELECT has_trigger('escalation', 'sources', 'invalidate_cache', 'escalation.sources has trigger invalidate_cache');
SELECT has_trigger('escalation', 'accounts', 'invalidate_cache', 'escalation.accounts has trigger invalidate_cache');
SELECT has_trigger('escalation', 'teams', 'invalidate_cache', 'escalation.teams has trigger invalidate_cache');
SELECT has_trigger('escalation', 'calendars', 'invalidate_cache', 'escalation.calendars has trigger invalidate_cache');
SELECT has_trigger('escalation', 'calendar_hours', 'invalidate_cache', 'escalation.calendar_hours has trigger invalidate_cache');
SELECT has_trigger('escalation', 'calendar_holidays', 'invalidate_cache', 'escalation.calendar_holidays has trigger invalidate_cache');
SELECT has_trigger('escalation', 'calendar_hours', 'validate_calendar_hours', 'escalation.calendar_hours has trigger validate_calendar_hours');
SELECT has_trigger('escalation', 'calendar_hours', 'calendar_hours_no_overlap', 'escalation.calendar_hours has constraint trigger calendar_hours_no_overlap');

-- roles
SELECT has_role('escalation_admin');
SELECT isnt_superuser('escalation_admin');
SELECT has_role('escalation_agent');
SELECT isnt_superuser('escalation_agent');
SELECT has_role('escalation_analyst');
SELECT isnt_superuser('escalation_analyst');

-- SECURITY DEFINER: exactly the state transitions, each with search_path pinned
SELECT is_definer('escalation', 'accept', ARRAY['bigint', 'text', 'timestamp with time zone']::name[]);
SELECT isnt_definer('escalation', 'attach', ARRAY['regclass', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'jsonb', 'regclass', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'regconfig', 'text', 'text']::name[]);
SELECT is_definer('escalation', 'cancel', ARRAY['bigint', 'text', 'timestamp with time zone']::name[]);
SELECT isnt_definer('escalation', 'detach', ARRAY['regclass']::name[]);
SELECT is_definer('escalation', 'escalate', ARRAY['regclass', 'text', 'text', 'text[]', 'integer', 'text', 'integer', 'text', 'jsonb', 'integer', 'timestamp with time zone']::name[]);
SELECT isnt_definer('escalation', 'explain', ARRAY['regclass', 'text', 'timestamp with time zone']::name[]);
SELECT is_definer('escalation', 'resolve', ARRAY['bigint', 'text', 'timestamp with time zone']::name[]);
SELECT isnt_definer('escalation', 'set_status', ARRAY['bigint', 'text', 'text', 'text', 'timestamp with time zone']::name[]);
SELECT isnt_definer('escalation', 'ticket_context', ARRAY['integer', 'text']::name[]);
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
       WHERE p.pronamespace = 'escalation'::regnamespace AND p.prosecdef
         AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')$$,
    'every SECURITY DEFINER function in schema escalation pins search_path');
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
       WHERE p.pronamespace = 'escalation'::regnamespace AND p.prosecdef
         AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c
                          WHERE c = 'search_path=pg_catalog, pg_temp')$$,
    'and pins it to pg_catalog, pg_temp');
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
       JOIN pg_catalog.pg_language l ON l.oid = p.prolang
       WHERE p.pronamespace = 'escalation'::regnamespace AND l.lanname = 'plpgsql'
         AND p.proconfig IS NULL$$,
    'every PL/pgSQL function in schema escalation pins search_path');

-- who may call what
SELECT function_privs_are('escalation', 'attach', ARRAY['regclass', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'jsonb', 'regclass', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'regconfig', 'text', 'text']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'attach', ARRAY['regclass', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'jsonb', 'regclass', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'regconfig', 'text', 'text']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'attach', ARRAY['regclass', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'jsonb', 'regclass', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'regconfig', 'text', 'text']::name[], 'escalation_agent', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'attach', ARRAY['regclass', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'jsonb', 'regclass', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'regconfig', 'text', 'text']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'detach', ARRAY['regclass']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'detach', ARRAY['regclass']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'detach', ARRAY['regclass']::name[], 'escalation_agent', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'detach', ARRAY['regclass']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'escalate', ARRAY['regclass', 'text', 'text', 'text[]', 'integer', 'text', 'integer', 'text', 'jsonb', 'integer', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'escalate', ARRAY['regclass', 'text', 'text', 'text[]', 'integer', 'text', 'integer', 'text', 'jsonb', 'integer', 'timestamp with time zone']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'escalate', ARRAY['regclass', 'text', 'text', 'text[]', 'integer', 'text', 'integer', 'text', 'jsonb', 'integer', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'escalate', ARRAY['regclass', 'text', 'text', 'text[]', 'integer', 'text', 'integer', 'text', 'jsonb', 'integer', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'accept', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'accept', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'accept', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'accept', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'resolve', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'resolve', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'resolve', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'resolve', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'cancel', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'cancel', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'cancel', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'cancel', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'explain', ARRAY['regclass', 'text', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'explain', ARRAY['regclass', 'text', 'timestamp with time zone']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'explain', ARRAY['regclass', 'text', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'explain', ARRAY['regclass', 'text', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'ticket_context', ARRAY['integer', 'text']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'ticket_context', ARRAY['integer', 'text']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'ticket_context', ARRAY['integer', 'text']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'ticket_context', ARRAY['integer', 'text']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'set_status', ARRAY['bigint', 'text', 'text', 'text', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'set_status', ARRAY['bigint', 'text', 'text', 'text', 'timestamp with time zone']::name[], 'escalation_admin', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'set_status', ARRAY['bigint', 'text', 'text', 'text', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'set_status', ARRAY['bigint', 'text', 'text', 'text', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'match_keywords', ARRAY['text', 'text[]', 'regconfig']::name[], 'public', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'match_keywords', ARRAY['text', 'text[]', 'regconfig']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'match_keywords', ARRAY['text', 'text[]', 'regconfig']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'match_keywords', ARRAY['text', 'text[]', 'regconfig']::name[], 'escalation_analyst', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'keyword_lexemes', ARRAY['text', 'regconfig']::name[], 'public', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'keyword_lexemes', ARRAY['text', 'regconfig']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'keyword_lexemes', ARRAY['text', 'regconfig']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'keyword_lexemes', ARRAY['text', 'regconfig']::name[], 'escalation_analyst', ARRAY['EXECUTE']);

SELECT function_privs_are('escalation', 'business_add', ARRAY['text', 'timestamp with time zone', 'interval']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'business_add', ARRAY['text', 'timestamp with time zone', 'interval']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'business_add', ARRAY['text', 'timestamp with time zone', 'interval']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'business_add', ARRAY['text', 'timestamp with time zone', 'interval']::name[], 'escalation_analyst', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'business_time', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'business_time', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'business_time', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'business_time', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'business_periods', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'business_periods', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'business_periods', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'business_periods', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY['EXECUTE']);

-- who may read and write what
SELECT table_privs_are('escalation', 'accounts', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'accounts', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'accounts', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'accounts', 'escalation_analyst', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'agent_skills', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'agent_skills', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'agent_skills', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'agent_skills', 'escalation_analyst', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'agents', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'agents', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'agents', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'agents', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'calendar_holidays', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'calendar_holidays', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'calendar_holidays', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'calendar_holidays', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'calendar_hours', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'calendar_hours', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'calendar_hours', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'calendar_hours', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'calendars', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'calendars', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'calendars', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'calendars', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'escalations', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'escalations', 'escalation_admin', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'escalations', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'escalations', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'events', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'events', 'escalation_admin', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'events', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'events', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'first_responses', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'first_responses', 'escalation_admin', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'first_responses', 'escalation_agent', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'first_responses', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'rules', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'rules', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'rules', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'rules', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'skills', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'skills', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'skills', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'skills', 'escalation_analyst', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'sources', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'sources', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE']::name[]);
SELECT table_privs_are('escalation', 'sources', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'sources', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'teams', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'teams', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'teams', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'teams', 'escalation_analyst', ARRAY['SELECT']::name[]);

-- the schema
SELECT schema_privs_are('escalation', 'public', ARRAY[]::name[]);
SELECT schema_privs_are('escalation', 'escalation_admin', ARRAY['USAGE']);
SELECT schema_privs_are('escalation', 'escalation_agent', ARRAY['USAGE']);
SELECT schema_privs_are('escalation', 'escalation_analyst', ARRAY['USAGE']);

-- the GUCs exist with their defaults
SELECT is(current_setting('escalation.enabled'), 'on', 'escalation.enabled defaults to on');
SELECT is(current_setting('escalation.context_messages'), '5', 'escalation.context_messages defaults to 5');
SELECT is(current_setting('escalation.context_tickets'), '5', 'escalation.context_tickets defaults to 5');
SELECT is((SELECT context FROM pg_settings WHERE name = 'escalation.enabled'), 'superuser', 'escalation.enabled is superuser-only');

SELECT * FROM finish();
ROLLBACK;
