/* Golden-test public header: every field type the mirrors know (fixed-width
 * integers, int, unsigned int, size_t, double, const char *, a nested struct, an
 * array, several names on one line), and structs filled from a table row and
 * from a query's ad hoc row. */
#ifndef PGQRS_H
#define PGQRS_H

#include <stddef.h>
#include <stdint.h>

#define PGQRS_EXTERN __attribute__((visibility("default")))

typedef struct pgqrs_jobs pgqrs_jobs;
typedef struct pgqrs_summaries pgqrs_summaries;

typedef struct pgqrs_job_info {   /* read-only */
    int64_t id;
    const char *queue;            /* moved out of the row */
    const char *state;            /* "new", "running", "done"; static */
    const char *payload;          /* JSON */
    const char *tags;             /* JSON or NULL */
    int32_t attempts;
    int urgent;
    int64_t run_at_us;
    int64_t finished_at_us;       /* 0 = not finished */
    int64_t owner_id;             /* 0 = none */
    int64_t age_us;               /* since run_at */
    const char *kind;             /* "job"; static */
    int64_t reserved;             /* always 0 */
} pgqrs_job_info;
PGQRS_EXTERN size_t pgqrs_jobs_count(const pgqrs_jobs *l);
PGQRS_EXTERN const pgqrs_job_info *pgqrs_jobs_at(const pgqrs_jobs *l, size_t i);
PGQRS_EXTERN void pgqrs_jobs_free(pgqrs_jobs *l);
PGQRS_EXTERN void pgqrs_job_info_free(pgqrs_job_info *job);

typedef struct pgqrs_job_summary {
    int64_t id;
    const char *queue;
    int64_t finished_at_us;
    int late;
    int64_t finished_age_us;      /* 0 while not finished */
} pgqrs_job_summary;
PGQRS_EXTERN size_t pgqrs_summaries_count(const pgqrs_summaries *l);
PGQRS_EXTERN const pgqrs_job_summary *pgqrs_summaries_at(const pgqrs_summaries *l, size_t i);
PGQRS_EXTERN void pgqrs_summaries_free(pgqrs_summaries *l);

typedef struct pgqrs_job_retry {   /* not versioned: a field of versioned options */
    int max_attempts;
    double multiplier;
} pgqrs_job_retry;

typedef struct pgqrs_job_options {
    unsigned int version;        /* PGQRS_JOB_OPTIONS_VERSION */
    pgqrs_job_retry retry;
    const char *queue;           /* NULL = "default" */
    int64_t low, high;           /* two on one line */
    int64_t counts[4];
    size_t max_batch;
} pgqrs_job_options;
#define PGQRS_JOB_OPTIONS_VERSION 2

#endif
