/*-------------------------------------------------------------------------
 *
 * triage_learn.c
 *	  Linear models for learned triage, their calibration, nothing else.
 *	  Pure: arrays in, weights out.
 *
 * The learner is LIBLINEAR's dual coordinate descent for the L2-regularised
 * squared-hinge SVM (Hsieh et al., ICML 2008; what scikit-learn's LinearSVC
 * runs): one pass over the examples updates one dual variable at a time in
 * closed form, so a pass costs one sparse dot product and one sparse update
 * per example, and a few passes converge on text.  The bias is a feature of
 * constant value 1 (regularised, as in LIBLINEAR).  Teams are one-vs-rest,
 * with a per-team weight on the positive examples (class_weight): the
 * caller chooses how far to balance rare teams.
 *
 * An SVM gives scores, not probabilities.  They are calibrated on
 * validation tickets, which train() takes from the training tickets: the
 * team's probability is a softmax of the scores with one temperature
 * (fitted by minimising the log loss, golden-section search on its
 * logarithm), the escalation probability Platt's sigmoid (two
 * parameters, Newton's method with his regularised targets).
 *
 * The dual solver shrinks, as LIBLINEAR does: an example at its bound
 * whose gradient says it will stay there is left out of the following
 * passes, and all are checked again before stopping.
 *
 * The example order of every pass is a fixed pseudo-random permutation, so
 * training is deterministic.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/memutils.h"

#include "escalation.h"

#define LEARN_MAX_PASSES	60
#define LEARN_EPS			0.2

/* a fixed shuffle: xorshift, so that every run is the same */
static void
shuffle(int *idx, int n, uint32 *state)
{
	for (int i = n - 1; i > 0; i--)
	{
		uint32		x = *state;
		int			j,
					t;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		*state = x;
		j = (int) (x % (uint32) (i + 1));
		t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
	}
}

/*
 * One binary problem: y[i] = +1 / -1, cost Cp for positives, Cn for
 * negatives.  w (nfeatures) and *b are overwritten.  qd[i] = |x_i|^2 + 1.
 */
static void
dual_cd(const EscTrainSet *X, const int8 *y, double Cp, double Cn, const double *qd,
		double *w, double *b, double *alpha, int *idx)
{
	int			n = X->n;
	uint32		state = 2463534242u;
	int			active = n;
	double		pgmax_old = INFINITY;

	/* alpha holds the starting point (zeros, or a related problem's) */
	memset(w, 0, sizeof(double) * X->nfeatures);
	*b = 0;
	for (int i = 0; i < n; i++)
	{
		idx[i] = i;
		if (alpha[i] != 0)
		{
			double		d = alpha[i] * y[i];

			for (int p = X->start[i]; p < X->start[i + 1]; p++)
				w[X->feat[p]] += d * X->val[p];
			*b += d;
		}
	}

	for (int pass = 0; pass < LEARN_MAX_PASSES; pass++)
	{
		double		pgmax = -INFINITY,
					pgmin = INFINITY;

		shuffle(idx, active, &state);
		for (int s = 0; s < active; s++)
		{
			int			i = idx[s];
			double		yi = y[i];
			double		diag = 0.5 / (yi > 0 ? Cp : Cn);
			double		g = *b;
			double		pg;

			for (int p = X->start[i]; p < X->start[i + 1]; p++)
				g += w[X->feat[p]] * X->val[p];
			g = yi * g - 1 + diag * alpha[i];
			if (alpha[i] == 0)
			{
				if (g > pgmax_old)
				{
					/* at its bound and likely to stay there: shrink */
					active--;
					idx[s] = idx[active];
					idx[active] = i;
					s--;
					continue;
				}
				pg = Min(g, 0);
			}
			else
				pg = g;
			pgmax = Max(pgmax, pg);
			pgmin = Min(pgmin, pg);
			if (fabs(pg) > 1e-12)
			{
				double		old = alpha[i];
				double		d;

				alpha[i] = Max(alpha[i] - g / (qd[i] + diag), 0);
				d = (alpha[i] - old) * yi;
				for (int p = X->start[i]; p < X->start[i + 1]; p++)
					w[X->feat[p]] += d * X->val[p];
				*b += d;
			}
		}
		if (pgmax - pgmin <= LEARN_EPS)
		{
			if (active == n)
				break;
			/* converged on the active examples: check them all again */
			active = n;
			pgmax_old = INFINITY;
			continue;
		}
		pgmax_old = (pgmax <= 0) ? INFINITY : pgmax;
	}
}

static double *
squared_norms(const EscTrainSet *X)
{
	double	   *qd = palloc(sizeof(double) * Max(X->n, 1));

	for (int i = 0; i < X->n; i++)
	{
		double		s = 1.0;	/* the bias feature */

		for (int p = X->start[i]; p < X->start[i + 1]; p++)
			s += (double) X->val[p] * X->val[p];
		qd[i] = s;
	}
	return qd;
}

/*
 * Warm starts.  The validation run learns on most of the training tickets,
 * the final run on all of them: the final run starts each problem from the
 * validation run's dual variables (zero for the tickets it did not see),
 * which is close to the answer and saves passes.  EscWarm holds them per
 * row of the whole training set, problem-major (the teams, then
 * escalation).
 */
typedef struct LearnRows
{
	const int  *rows;			/* row of the subset -> row of the whole set */
	int			nall;			/* rows of the whole set */
	const float *warm;			/* (nclasses + 1) x nall, or NULL */
	float	   *alpha_out;		/* the same layout, or NULL */
} LearnRows;

static void
warm_in(const LearnRows *lr, int problem, double *alpha, int n)
{
	for (int i = 0; i < n; i++)
		alpha[i] = lr->warm ? lr->warm[(size_t) problem * lr->nall + lr->rows[i]] : 0;
}

static void
warm_out(const LearnRows *lr, int problem, const double *alpha, int n)
{
	if (lr->alpha_out)
		for (int i = 0; i < n; i++)
			lr->alpha_out[(size_t) problem * lr->nall + lr->rows[i]] = (float) alpha[i];
}

/*
 * One-vs-rest: w is nfeatures x nclasses, feature-major (the layout scoring
 * reads: a ticket's features each add one contiguous row).
 */
static void
learn_ovr(const EscTrainSet *X, const int *y, int nclasses, double C,
		  const double *class_weight, float *w, float *b, const LearnRows *lr,
		  EscProgress progress, void *arg, const char *phase)
{
	double	   *qd = squared_norms(X);
	double	   *wk = palloc(sizeof(double) * Max(X->nfeatures, 1));
	double	   *alpha = palloc(sizeof(double) * Max(X->n, 1));
	int		   *idx = palloc(sizeof(int) * Max(X->n, 1));
	int8	   *yk = palloc(sizeof(int8) * Max(X->n, 1));

	for (int k = 0; k < nclasses; k++)
	{
		double		bk;
		bool		any = false;

		for (int i = 0; i < X->n; i++)
		{
			yk[i] = (y[i] == k) ? 1 : -1;
			any |= (y[i] == k);
		}
		if (!any)
		{
			/* a team with no training ticket is never predicted */
			for (int f = 0; f < X->nfeatures; f++)
				w[(size_t) f * nclasses + k] = 0;
			b[k] = -1e6;
			memset(alpha, 0, sizeof(double) * X->n);
			warm_out(lr, k, alpha, X->n);
			continue;
		}
		warm_in(lr, k, alpha, X->n);
		dual_cd(X, yk, C * (class_weight ? class_weight[k] : 1.0), C, qd, wk, &bk, alpha, idx);
		warm_out(lr, k, alpha, X->n);
		for (int f = 0; f < X->nfeatures; f++)
			w[(size_t) f * nclasses + k] = (float) wk[f];
		b[k] = (float) bk;
		if (progress)
			progress(arg, phase, k + 1, nclasses);
	}
	pfree(qd);
	pfree(wk);
	pfree(alpha);
	pfree(idx);
	pfree(yk);
}

static void
learn_binary(const EscTrainSet *X, const int8 *y, double C, float *w, float *b,
			 const LearnRows *lr, int problem)
{
	double	   *qd = squared_norms(X);
	double	   *wd = palloc(sizeof(double) * Max(X->nfeatures, 1));
	double	   *alpha = palloc(sizeof(double) * Max(X->n, 1));
	int		   *idx = palloc(sizeof(int) * Max(X->n, 1));
	double		bd;

	warm_in(lr, problem, alpha, X->n);
	dual_cd(X, y, C, C, qd, wd, &bd, alpha, idx);
	warm_out(lr, problem, alpha, X->n);
	for (int f = 0; f < X->nfeatures; f++)
		w[f] = (float) wd[f];
	*b = (float) bd;
	pfree(qd);
	pfree(wd);
	pfree(alpha);
	pfree(idx);
}

/* the rows of X with keep[i], in a new set; rows[] maps them back */
static EscTrainSet
subset(const EscTrainSet *X, const bool *keep, int *rows)
{
	EscTrainSet S;
	int			n = 0,
				p = 0;

	S.nfeatures = X->nfeatures;
	for (int i = 0; i < X->n; i++)
		if (keep[i])
		{
			n++;
			p += X->start[i + 1] - X->start[i];
		}
	S.n = n;
	S.start = palloc(sizeof(int) * (n + 1));
	S.feat = palloc(sizeof(int) * Max(p, 1));
	S.val = palloc(sizeof(float) * Max(p, 1));
	n = p = 0;
	for (int i = 0; i < X->n; i++)
	{
		int			len;

		if (!keep[i])
			continue;
		len = X->start[i + 1] - X->start[i];
		rows[n] = i;
		S.start[n++] = p;
		memcpy(S.feat + p, X->feat + X->start[i], sizeof(int) * len);
		memcpy(S.val + p, X->val + X->start[i], sizeof(float) * len);
		p += len;
	}
	S.start[n] = p;
	return S;
}

/*
 * Both models on the rows of X with use[i] (NULL: all): the team model on
 * X's rows with a team (y >= 0), the escalation model on Xe's (the same
 * tickets, in the same order, with more features: the subject grams) with
 * a known escalation (ye = +1 or -1; only when both kinds occur).
 */
void
esc_learn_triage(const EscTrainSet *X, const EscTrainSet *Xe, const int *y, const int8 *ye,
				 const bool *use,
				 int nclasses, double C, double esc_C, double balance,
				 const float *warm, float *alpha_out, EscLearned *out,
				 EscProgress progress, void *arg, const char *phase)
{
	int		   *rows = palloc(sizeof(int) * Max(X->n, 1));
	LearnRows	lr = {rows, X->n, warm, alpha_out};
	int			K = nclasses;
	int			V = X->nfeatures;
	int			Ve = Xe->nfeatures;
	bool	   *keep = palloc(sizeof(bool) * Max(X->n, 1));
	int		   *count = palloc0(sizeof(int) * K);
	double	   *cw = palloc(sizeof(double) * K);
	int		   *yt = palloc(sizeof(int) * Max(X->n, 1));
	int8	   *yy = palloc(sizeof(int8) * Max(X->n, 1));
	EscTrainSet S;
	int			nt = 0,
				npos = 0,
				nneg = 0;

	memset(out, 0, sizeof(EscLearned));

	/* teams: one-vs-rest, rare teams weighed up by class_balance */
	for (int i = 0; i < X->n; i++)
	{
		keep[i] = (use == NULL || use[i]) && y[i] >= 0;
		if (keep[i])
		{
			yt[nt++] = y[i];
			count[y[i]]++;
		}
	}
	S = subset(X, keep, rows);
	out->present = palloc(sizeof(bool) * K);
	for (int k = 0; k < K; k++)
	{
		out->present[k] = count[k] > 0;
		cw[k] = pow((double) nt / ((double) K * Max(count[k], 1)), balance);
	}
	out->w = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * Max((size_t) V * K, 1));
	out->b = palloc(sizeof(float) * K);
	learn_ovr(&S, yt, K, C, cw, out->w, out->b, &lr, progress, arg, phase);

	/* escalation: binary, on the rows whose label is known */
	for (int i = 0; i < X->n; i++)
	{
		keep[i] = (use == NULL || use[i]) && ye[i] != 0;
		if (keep[i])
		{
			yy[npos + nneg] = ye[i];
			(ye[i] > 0) ? npos++ : nneg++;
		}
	}
	if (npos == 0 || nneg == 0)
		return;
	S = subset(Xe, keep, rows);
	out->has_escalation = true;
	out->we = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * Max(Ve, 1));
	learn_binary(&S, yy, esc_C, out->we, &out->be, &lr, K);
}

/* out[k] = b[k] + row i of X times column k of w (V x K, feature-major) */
void
esc_linear_scores(const EscTrainSet *X, int i, const float *w, const float *b, int K,
				  double *out)
{
	for (int k = 0; k < K; k++)
		out[k] = b[k];
	for (int p = X->start[i]; p < X->start[i + 1]; p++)
	{
		const float *wf = w + (size_t) X->feat[p] * K;
		double		x = X->val[p];

		for (int k = 0; k < K; k++)
			out[k] += wf[k] * x;
	}
}

/* mean log loss of softmax(t * scores) */
static double
softmax_loss(const double *scores, const int *y, int n, int K, double t)
{
	double		loss = 0;

	for (int i = 0; i < n; i++)
	{
		const double *s = scores + (size_t) i * K;
		double		max = -INFINITY,
					sum = 0;

		for (int k = 0; k < K; k++)
			max = Max(max, s[k]);
		for (int k = 0; k < K; k++)
			sum += exp(t * (s[k] - max));
		loss += log(sum) - t * (s[y[i]] - max);
	}
	return loss / Max(n, 1);
}

/*
 * The softmax temperature that best calibrates held-out scores (n x K,
 * row-major; y[i] < 0 = a team the model does not know, skipped by the
 * caller).  1 when there is nothing to fit on.
 */
double
esc_fit_temperature(const double *scores, const int *y, int n, int nclasses)
{
	double		lo = log(0.1),
				hi = log(100.0);
	const double gr = (sqrt(5.0) - 1) / 2;
	double		a,
				c;

	if (n < 10 || nclasses < 2)
		return 1.0;
	a = hi - gr * (hi - lo);
	c = lo + gr * (hi - lo);
	for (int it = 0; it < 40; it++)
	{
		if (softmax_loss(scores, y, n, nclasses, exp(a)) <
			softmax_loss(scores, y, n, nclasses, exp(c)))
			hi = c;
		else
			lo = a;
		a = hi - gr * (hi - lo);
		c = lo + gr * (hi - lo);
	}
	return exp((lo + hi) / 2);
}

/*
 * Platt's sigmoid P(y = 1 | s) = 1 / (1 + exp(a s + b)) on held-out scores,
 * by Newton's method with backtracking (Lin, Lin and Weng's version).
 * Without held-out tickets of both kinds, a = -2, b = 0.
 */
void
esc_fit_platt(const double *scores, const int8 *y, int n, double *pa, double *pb)
{
	int			npos = 0,
				nneg = 0;
	double		hi_t,
				lo_t,
				a = 0,
				b,
				fval = 0;

	for (int i = 0; i < n; i++)
		(y[i] > 0) ? npos++ : nneg++;
	if (npos == 0 || nneg == 0)
	{
		*pa = -2;
		*pb = 0;
		return;
	}
	hi_t = (npos + 1.0) / (npos + 2.0);
	lo_t = 1.0 / (nneg + 2.0);
	b = log((nneg + 1.0) / (npos + 1.0));

#define PLATT_T(i) (y[i] > 0 ? hi_t : lo_t)
	for (int i = 0; i < n; i++)
	{
		double		f = scores[i] * a + b;
		double		t = PLATT_T(i);

		fval += (f >= 0) ? t * f + log1p(exp(-f)) : (t - 1) * f + log1p(exp(f));
	}
	for (int it = 0; it < 100; it++)
	{
		double		h11 = 1e-12,
					h22 = 1e-12,
					h21 = 0,
					g1 = 0,
					g2 = 0,
					det,
					da,
					db,
					gd,
					step;

		for (int i = 0; i < n; i++)
		{
			double		f = scores[i] * a + b;
			double		p,
						q,
						d1,
						d2;

			if (f >= 0)
			{
				p = exp(-f) / (1.0 + exp(-f));
				q = 1.0 / (1.0 + exp(-f));
			}
			else
			{
				p = 1.0 / (1.0 + exp(f));
				q = exp(f) / (1.0 + exp(f));
			}
			d2 = p * q;
			h11 += scores[i] * scores[i] * d2;
			h22 += d2;
			h21 += scores[i] * d2;
			d1 = PLATT_T(i) - p;
			g1 += scores[i] * d1;
			g2 += d1;
		}
		if (fabs(g1) < 1e-5 && fabs(g2) < 1e-5)
			break;
		det = h11 * h22 - h21 * h21;
		da = -(h22 * g1 - h21 * g2) / det;
		db = -(-h21 * g1 + h11 * g2) / det;
		gd = g1 * da + g2 * db;
		for (step = 1; step >= 1e-10; step /= 2)
		{
			double		na = a + step * da,
						nb = b + step * db,
						nf = 0;

			for (int i = 0; i < n; i++)
			{
				double		f = scores[i] * na + nb;
				double		t = PLATT_T(i);

				nf += (f >= 0) ? t * f + log1p(exp(-f)) : (t - 1) * f + log1p(exp(f));
			}
			if (nf < fval + 1e-4 * step * gd)
			{
				a = na;
				b = nb;
				fval = nf;
				break;
			}
		}
		if (step < 1e-10)
			break;
	}
#undef PLATT_T
	*pa = a;
	*pb = b;
}
