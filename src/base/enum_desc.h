/* enum_desc.h: the string names of a schema enum, for codecs and converters. */
#ifndef PGQRS_ENUM_DESC_H
#define PGQRS_ENUM_DESC_H

typedef struct pgqrs__enum_desc {
    const char *name;             /* the enum's name in schema/pgqrs.toml */
    const char *const *values;    /* in declaration order */
    int count;
} pgqrs__enum_desc;

/* The name of value v, or NULL when v is out of range. */
const char *pgqrs__enum_str(const pgqrs__enum_desc *d, int v);
/* The index of s among the names, or -1 (also for NULL). */
int pgqrs__enum_parse(const pgqrs__enum_desc *d, const char *s);

#endif
