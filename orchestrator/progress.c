/*
 * progress — progress records and the terminal display; see progress.h.
 */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "log.h"

void progress_send(int fd, const ProgressMsg *m)
{
	if (fd < 0)
		return;
	ssize_t w = write(fd, m, sizeof *m);
	(void)w;
}

void progress_send_part(int fd, ProgressKind kind, int part, int64_t rows, int64_t bytes)
{
	ProgressMsg m = {.kind = kind, .u.part = {.index = part, .rows = rows, .bytes = bytes}};
	progress_send(fd, &m);
}

void progress_send_unrep(int fd, ProgressKind kind, int index, int column, int64_t count)
{
	ProgressMsg m = {.kind = kind, .u.unrep = {.index = index, .column = column, .count = count}};
	progress_send(fd, &m);
}

void progress_send_stream(int fd, int64_t rows_applied, uint64_t confirmed_lsn)
{
	ProgressMsg m = {.kind = PROG_STREAM_ROWS,
			 .u.stream = {.rows_applied = rows_applied, .confirmed_lsn = confirmed_lsn}};
	progress_send(fd, &m);
}

void progress_send_table(int fd, ProgressKind kind, int table, uint64_t lsn)
{
	ProgressMsg m = {.kind = kind, .u.table = {.index = table, .lsn = lsn}};
	progress_send(fd, &m);
}

void progress_send_counts(int fd, int table, const int64_t n[PROG_N_COUNTS])
{
	ProgressMsg m = {.kind = PROG_STREAM_TABLE, .u.counts = {.index = table}};
	memcpy(m.u.counts.n, n, sizeof m.u.counts.n);
	progress_send(fd, &m);
}

void progress_send_flush(int fd, ProgressKind kind, int64_t duration_us, int64_t commit_unix_us)
{
	ProgressMsg m = {.kind = kind, .u.flush = {.duration_us = duration_us, .commit_unix_us = commit_unix_us}};
	progress_send(fd, &m);
}

double progress_now(void)
{
	return clock_now();
}

void progress_format_count(int64_t v, char *out, size_t outlen)
{
	char digits[32];
	snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
	size_t n = strlen(digits), o = 0;
	if (v < 0 && o + 1 < outlen)
		out[o++] = '-';
	for (size_t i = 0; i < n && o + 2 < outlen; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
}

void progress_format_bytes(uint64_t v, char *out, size_t outlen)
{
	const char *units[] = {"B", "kB", "MB", "GB", "TB"};
	double d = (double)v;
	int u = 0;
	while (d >= 1000 && u < 4) {
		d /= 1000;
		u++;
	}
	snprintf(out, outlen, u ? "%.1f %s" : "%.0f %s", d, units[u]);
}

/* ---------------------------------------------------------------- display */

static bool display_on;
static int drawn_lines;
static Buf last_frame;
static double last_draw;

static void display_clear(void)
{
	if (!display_on || drawn_lines == 0)
		return;
	char seq[32];
	int n = snprintf(seq, sizeof seq, "\r\033[%dA\033[J", drawn_lines);
	ssize_t w = write(STDERR_FILENO, seq, (size_t)n);
	(void)w;
	drawn_lines = 0;
}

static void display_redraw_last(void)
{
	if (!display_on || last_frame.len == 0)
		return;
	ssize_t w = write(STDERR_FILENO, last_frame.data, last_frame.len);
	(void)w;
	drawn_lines = 0;
	for (size_t i = 0; i < last_frame.len; i++)
		drawn_lines += last_frame.data[i] == '\n';
}

void progress_display_init(bool enabled)
{
	display_on = enabled && isatty(STDERR_FILENO) && log_get_format() == LOG_FORMAT_TEXT; /* JSON lines stay parseable */
	buf_init(&last_frame);
	if (display_on)
		log_set_hooks(display_clear, display_redraw_last);
}

bool progress_display_enabled(void)
{
	return display_on;
}

void progress_display_draw(const ProgressLine *lines, int n, bool force)
{
	if (!display_on)
		return;
	double now = progress_now();
	if (!force && now - last_draw < 0.5)
		return;
	last_draw = now;
	buf_reset(&last_frame);
	int shown = 0;
	for (int i = 0; i < n; i++) {
		const ProgressLine *l = &lines[i];
		if (!l->started && !l->done)
			continue;
		if (shown >= 20) {
			buf_printf(&last_frame, "  ... and more tables\n");
			break;
		}
		shown++;
		char rows[32], est[32];
		progress_format_count(l->rows, rows, sizeof rows);
		progress_format_count(l->est_rows, est, sizeof est);
		double pct = l->done ? 100.0 : l->est_rows > 0 ? 100.0 * (double)l->rows / (double)l->est_rows : 0;
		if (pct > 99.9 && !l->done)
			pct = 99.9;
		double secs = (l->done && l->finished > 0 ? l->finished : now) - l->started;
		double rate = secs > 0.2 ? (double)l->rows / secs : 0;
		char eta[32] = "";
		if (!l->done && rate > 0 && l->est_rows > l->rows) {
			int left = (int)((double)(l->est_rows - l->rows) / rate);
			snprintf(eta, sizeof eta, "  ETA %d:%02d", left / 60, left % 60);
		}
		int bar = (int)(pct / 5);
		char barbuf[24];
		for (int b = 0; b < 20; b++)
			barbuf[b] = b < bar ? '#' : '.';
		barbuf[20] = '\0';
		char ratebuf[32];
		progress_format_count((int64_t)rate, ratebuf, sizeof ratebuf);
		buf_printf(&last_frame, "  %-32.32s [%s] %5.1f%%  %s/%s rows  %s rows/s  %d/%d parts%s%s\n", l->name, barbuf,
			   pct, rows, est, ratebuf, l->parts_done, l->parts, eta, l->done ? "  done" : "");
	}
	display_clear();
	display_redraw_last();
}

void progress_display_finish(void)
{
	if (display_on) {
		display_clear();
		log_set_hooks(NULL, NULL);
	}
	buf_free(&last_frame);
	display_on = false;
}
