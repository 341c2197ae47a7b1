/*
 * buf — growable byte buffers and the little-endian / varint writers used to build
 * ClickHouse RowBinary, HTTP bodies and SQL text.
 *
 * A Buf owns `data` (always NUL-terminated after `len` so it can be used as a C string)
 * and grows geometrically. Allocation failure is fatal (xmalloc logs and exits): pgch
 * bounds its memory by design, so running out is a bug or a misconfigured limit.
 */
#ifndef PGCH_BUF_H
#define PGCH_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct Buf {
	char *data;
	size_t len;
	size_t cap;
} Buf;

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void buf_init(Buf *b);
void buf_free(Buf *b);
void buf_reset(Buf *b);
void buf_grow(Buf *b, size_t extra);
/* Detach the contents as a malloc'd string; the Buf is left empty. */
char *buf_steal(Buf *b);

static inline void buf_reserve(Buf *b, size_t extra)
{
	if (b->cap - b->len <= extra)
		buf_grow(b, extra);
}

static inline void buf_put(Buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static inline void buf_put_u8(Buf *b, uint8_t v)
{
	buf_reserve(b, 1);
	b->data[b->len++] = (char)v;
	b->data[b->len] = '\0';
}

/* Little-endian fixed-width integers (RowBinary's byte order). */
static inline void buf_put_le(Buf *b, uint64_t v, int bytes)
{
	buf_reserve(b, (size_t)bytes);
	for (int i = 0; i < bytes; i++)
		b->data[b->len++] = (char)(v >> (8 * i));
	b->data[b->len] = '\0';
}

/* Unsigned LEB128, the length prefix of RowBinary strings and arrays. */
static inline void buf_put_varint(Buf *b, uint64_t v)
{
	buf_reserve(b, 10);
	do {
		uint8_t byte = v & 0x7f;
		v >>= 7;
		if (v)
			byte |= 0x80;
		b->data[b->len++] = (char)byte;
	} while (v);
	b->data[b->len] = '\0';
}

/* A RowBinary String: varint length, then the bytes. */
static inline void buf_put_string(Buf *b, const void *p, size_t n)
{
	buf_put_varint(b, n);
	buf_put(b, p, n);
}

static inline void buf_puts(Buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

/* A JSON string literal (quoted, escaped): shared by every --json output. */
void buf_json_string(Buf *b, const char *s);

void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(Buf *b, const char *fmt, va_list ap);

/* Big-endian readers for PostgreSQL's binary formats (callers check bounds first). */
static inline uint16_t rd_be16(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	return (uint16_t)((u[0] << 8) | u[1]);
}
static inline uint32_t rd_be32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	return ((uint32_t)u[0] << 24) | ((uint32_t)u[1] << 16) | ((uint32_t)u[2] << 8) | u[3];
}
static inline uint64_t rd_be64(const char *p)
{
	return ((uint64_t)rd_be32(p) << 32) | rd_be32(p + 4);
}

/* FNV-1a over n bytes: the hash of byte keys (batch entries, lookups, verify). */
static inline uint64_t buf_hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h;
}

#endif
