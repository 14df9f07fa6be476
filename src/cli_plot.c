/*
 * cli_plot.c - SVG line plots written directly, PNG through gnuplot.
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "cli_plot.h"

/* Canvas and plot area of the SVG, px. */
enum {
    CLI_PLOT_W = 960,
    CLI_PLOT_H = 560,
    CLI_PLOT_LEFT = 96,
    CLI_PLOT_RIGHT = 28,
    CLI_PLOT_TOP = 64,
    CLI_PLOT_BOTTOM = 64
};

static int cli_plot_in_x(const cli_plot *p, size_t k)
{
    return p->x[k] >= p->xmin && p->x[k] <= p->xmax;
}

static int cli_plot_band_ok(const cli_plot *p, const cli_plot_curve *c)
{
    if (c->err == NULL)
        return 0;
    for (size_t k = 0; k < p->n; k++)
        if (cli_plot_in_x(p, k) && !isfinite(c->err[k]))
            return 0;
    return 1;
}

void cli_plot_yrange(const cli_plot *p, double *lo, double *hi)
{
    double a = 0.0, b = 0.0;
    for (size_t j = 0; j < p->ncurves; j++) {
        const cli_plot_curve *const c = &p->curves[j];
        const int band = cli_plot_band_ok(p, c);
        for (size_t k = 0; k < p->n; k++) {
            if (!cli_plot_in_x(p, k) || p->x[k] < p->yscale_from ||
                !isfinite(c->y[k]))
                continue;
            const double e = band ? c->err[k] : 0.0;
            if (c->y[k] + e > b)
                b = c->y[k] + e;
            if (c->y[k] - e < a)
                a = c->y[k] - e;
        }
    }
    if (!(b > a))
        b = a + 1.0;
    const double pad = 0.05 * (b - a);
    *lo = a < 0.0 ? a - pad : 0.0;
    *hi = b + pad;
}

/* Tick step: 1, 2 or 5 times a power of ten, giving at most ~8 ticks. */
static double cli_plot_step(double range)
{
    const double raw = range / 7.0;
    const double p10 = pow(10.0, floor(log10(raw)));
    const double f = raw / p10;
    return (f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0) * p10;
}

static void cli_plot_escape(FILE *f, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

int cli_plot_svg(FILE *f, const cli_plot *p)
{
    const double x0 = CLI_PLOT_LEFT, x1 = CLI_PLOT_W - CLI_PLOT_RIGHT;
    const double y0 = CLI_PLOT_H - CLI_PLOT_BOTTOM, y1 = CLI_PLOT_TOP;
    double ylo, yhi;
    cli_plot_yrange(p, &ylo, &yhi);
    const double sx = (x1 - x0) / (p->xmax - p->xmin);
    const double sy = (y1 - y0) / (yhi - ylo);
#define PX(v) (x0 + ((v) -p->xmin) * sx)
#define PY(v) (y0 + ((v) -ylo) * sy)

    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, "
            "Helvetica, Arial, sans-serif\" font-size=\"14\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<defs><clipPath id=\"area\"><rect x=\"%.1f\" y=\"%.1f\" "
            "width=\"%.1f\" height=\"%.1f\"/></clipPath></defs>\n",
            CLI_PLOT_W, CLI_PLOT_H, CLI_PLOT_W, CLI_PLOT_H, x0, y1, x1 - x0,
            y0 - y1);
    if (p->title != NULL) {
        fprintf(f,
                "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" "
                "font-size=\"17\">",
                CLI_PLOT_W / 2);
        cli_plot_escape(f, p->title);
        fputs("</text>\n", f);
    }
    if (p->note != NULL) {
        fprintf(f,
                "<text x=\"%d\" y=\"44\" text-anchor=\"middle\" "
                "font-size=\"12\" fill=\"#444\">",
                CLI_PLOT_W / 2);
        cli_plot_escape(f, p->note);
        fputs("</text>\n", f);
    }

    /* Grid and ticks. */
    const double xs = cli_plot_step(p->xmax - p->xmin);
    for (double v = ceil(p->xmin / xs) * xs; v <= p->xmax + 1e-9 * xs;
         v += xs) {
        fprintf(
            f,
            "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
            "stroke=\"#e4e4e4\"/>\n"
            "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%g</text>\n",
            PX(v), y0, PX(v), y1, PX(v), y0 + 20, v);
    }
    const double ys = cli_plot_step(yhi - ylo);
    /* A common power of ten goes into the axis label. */
    const double big = fmax(fabs(ylo), fabs(yhi));
    const int e10 = big > 0.0 ? (int) floor(log10(big)) : 0;
    const int factor = e10 >= 4 || e10 <= -3;
    const double div = factor ? pow(10.0, e10) : 1.0;
    for (double v = ceil(ylo / ys) * ys; v <= yhi + 1e-9 * ys; v += ys) {
        const double shown = fabs(v) < 1e-9 * ys ? 0.0 : v / div;
        fprintf(f,
                "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
                "stroke=\"%s\"/>\n"
                "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">%g</text>\n",
                x0, PY(v), x1, PY(v), fabs(v) < 1e-9 * ys ? "#999" : "#e4e4e4",
                x0 - 8, PY(v) + 5, shown);
    }
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"none\" stroke=\"black\"/>\n",
            x0, y1, x1 - x0, y0 - y1);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
            0.5 * (x0 + x1), CLI_PLOT_H - 16);
    cli_plot_escape(f, p->xlabel);
    fputs("</text>\n", f);
    fprintf(f,
            "<text transform=\"translate(22 %.1f) rotate(-90)\" "
            "text-anchor=\"middle\">",
            0.5 * (y0 + y1));
    cli_plot_escape(f, p->ylabel);
    if (factor)
        fprintf(f, " (\xc3\x97 1e%d)", e10);
    fputs("</text>\n", f);

    /* Reference lines; a label closer than 30 px to the previous one
     * (in the order given) moves down a row. */
    double last_x = -1e9;
    int row = 0;
    for (size_t r = 0; r < p->nrefs; r++) {
        if (!(p->refs[r] >= p->xmin && p->refs[r] <= p->xmax))
            continue;
        const double px = PX(p->refs[r]);
        row = fabs(px - last_x) < 30.0 ? (row + 1) % 3 : 0;
        last_x = px;
        const double ty = y1 + 11 + 11.0 * row;
        fprintf(f,
                "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
                "stroke=\"#d62728\" stroke-dasharray=\"5,4\" "
                "stroke-width=\"1\"/>\n"
                "<text x=\"%.2f\" y=\"%.2f\" font-size=\"10\" "
                "fill=\"#d62728\" text-anchor=\"middle\">%g</text>\n",
                px, y0, px, ty + 3, px, ty, p->refs[r]);
    }

    /* Bands, then lines, clipped to the plot area. */
    fputs("<g clip-path=\"url(#area)\">\n", f);
    for (size_t j = 0; j < p->ncurves; j++) {
        const cli_plot_curve *const c = &p->curves[j];
        if (!cli_plot_band_ok(p, c))
            continue;
        fprintf(f,
                "<path fill=\"%s\" fill-opacity=\"0.28\" stroke=\"none\" "
                "d=\"",
                c->color);
        int first = 1;
        for (size_t k = 0; k < p->n; k++)
            if (cli_plot_in_x(p, k)) {
                fprintf(f, "%c%.2f %.2f ", first ? 'M' : 'L', PX(p->x[k]),
                        PY(c->y[k] + c->err[k]));
                first = 0;
            }
        for (size_t k = p->n; k-- > 0;)
            if (cli_plot_in_x(p, k))
                fprintf(f, "L%.2f %.2f ", PX(p->x[k]), PY(c->y[k] - c->err[k]));
        fputs("Z\"/>\n", f);
    }
    for (size_t j = 0; j < p->ncurves; j++) {
        const cli_plot_curve *const c = &p->curves[j];
        fprintf(f,
                "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.2f\" "
                "stroke-linejoin=\"round\" points=\"",
                c->color, c->width);
        for (size_t k = 0; k < p->n; k++)
            if (cli_plot_in_x(p, k) && isfinite(c->y[k]))
                fprintf(f, "%.2f,%.2f ", PX(p->x[k]), PY(c->y[k]));
        fputs("\"/>\n", f);
    }
    fputs("</g>\n", f);

    /* Legend, top right. */
    size_t nleg = p->ncurves + (p->nrefs > 0 && p->ref_label != NULL);
    for (size_t j = 0; j < p->ncurves; j++)
        nleg += cli_plot_band_ok(p, &p->curves[j]);
    /* Below the reference labels (three rows), if any. */
    const double lw = 250, lx = x1 - lw - 10;
    const double ly = y1 + (p->nrefs > 0 ? 52 : 22);
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"white\" fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n",
            lx, ly - 6, lw, 20.0 * (double) nleg + 8);
    double yy = ly + 10;
    for (size_t j = 0; j < p->ncurves; j++) {
        const cli_plot_curve *const c = &p->curves[j];
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"%s\" stroke-width=\"%.2f\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\">",
                lx + 10, yy - 4, lx + 40, yy - 4, c->color, c->width + 0.5,
                lx + 48, yy + 1);
        cli_plot_escape(f, c->label);
        fputs("</text>\n", f);
        yy += 20;
        if (cli_plot_band_ok(p, c)) {
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"30\" height=\"10\" "
                    "fill=\"%s\" fill-opacity=\"0.28\"/>\n"
                    "<text x=\"%.1f\" y=\"%.1f\">",
                    lx + 10, yy - 9, c->color, lx + 48, yy + 1);
            fputs("\xc2\xb1 standard error", f);
            fputs("</text>\n", f);
            yy += 20;
        }
    }
    if (p->nrefs > 0 && p->ref_label != NULL) {
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#d62728\" stroke-dasharray=\"5,4\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\">",
                lx + 10, yy - 4, lx + 40, yy - 4, lx + 48, yy + 1);
        cli_plot_escape(f, p->ref_label);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
#undef PX
#undef PY
    return ferror(f) ? -1 : 0;
}

/* A string for a gnuplot single-quoted literal: no quote, no newline. */
static int cli_plot_gp_safe(const char *s)
{
    return s == NULL || strpbrk(s, "'\n\r") == NULL;
}

int cli_plot_png(const char *path, const cli_plot *p, char *msg, size_t len)
{
    if (!cli_plot_gp_safe(path) || !cli_plot_gp_safe(p->title) ||
        !cli_plot_gp_safe(p->note) || !cli_plot_gp_safe(p->xlabel) ||
        !cli_plot_gp_safe(p->ylabel) || !cli_plot_gp_safe(p->ref_label)) {
        snprintf(msg, len,
                 "%s: a quote or line break in the path or a "
                 "label cannot go to gnuplot",
                 path);
        return -1;
    }
    for (size_t j = 0; j < p->ncurves; j++)
        if (!cli_plot_gp_safe(p->curves[j].label)) {
            snprintf(msg, len, "a quote in a curve label");
            return -1;
        }
    FILE *const g = popen("gnuplot", "w");
    if (g == NULL) {
        snprintf(msg, len, "cannot start gnuplot (needed for %s)", path);
        return -1;
    }
    double ylo, yhi;
    cli_plot_yrange(p, &ylo, &yhi);
    fprintf(g, "set encoding utf8\n"
               "set terminal pngcairo size 1280,746 enhanced font ',13'\n");
    fprintf(g, "set output '%s'\n", path);
    /* Title and note as labels: single-quoted gnuplot strings take no
     * escapes, so no "\n" in a title. */
    fputs("set tmargin 5\n", g);
    if (p->title != NULL)
        fprintf(g,
                "set label '%s' at screen 0.5, screen 0.965 center font ',15' "
                "noenhanced\n",
                p->title);
    if (p->note != NULL)
        fprintf(g,
                "set label '%s' at screen 0.5, screen 0.925 center font ',10' "
                "noenhanced\n",
                p->note);
    fprintf(g,
            "set xlabel '%s' noenhanced\nset ylabel '%s' noenhanced\n"
            "set xrange [%.17g:%.17g]\nset yrange [%.17g:%.17g]\n"
            "set grid lc rgb '#e4e4e4'\nset key top right box opaque\n"
            "set style fill transparent solid 0.28 noborder\n",
            p->xlabel, p->ylabel, p->xmin, p->xmax, ylo, yhi);
    for (size_t r = 0; r < p->nrefs; r++)
        fprintf(g,
                "set arrow from %.17g, graph 0 to %.17g, graph 1 nohead dt 2 "
                "lc rgb '#d62728'\n",
                p->refs[r], p->refs[r]);
    /* Inline data: x, then y and err of each curve (err 0 if none). */
    fputs("$d << EOD\n", g);
    for (size_t k = 0; k < p->n; k++) {
        if (!cli_plot_in_x(p, k))
            continue;
        fprintf(g, "%.10g", p->x[k]);
        for (size_t j = 0; j < p->ncurves; j++) {
            const cli_plot_curve *const c = &p->curves[j];
            fprintf(g, " %.10g %.10g", c->y[k],
                    cli_plot_band_ok(p, c) ? c->err[k] : 0.0);
        }
        fputc('\n', g);
    }
    fputs("EOD\nplot ", g);
    int first = 1;
    for (size_t j = 0; j < p->ncurves; j++) {
        const cli_plot_curve *const c = &p->curves[j];
        if (!cli_plot_band_ok(p, c))
            continue;
        fprintf(g,
                "%s$d using 1:($%zu-$%zu):($%zu+$%zu) with filledcurves "
                "lc rgb '%s' title '\xc2\xb1 standard error'",
                first ? "" : ", ", 2 + 2 * j, 3 + 2 * j, 2 + 2 * j, 3 + 2 * j,
                c->color);
        first = 0;
    }
    for (size_t j = 0; j < p->ncurves; j++) {
        const cli_plot_curve *const c = &p->curves[j];
        fprintf(g, "%s$d using 1:%zu with lines lw %.2f lc rgb '%s' title '%s'",
                first ? "" : ", ", 2 + 2 * j, c->width, c->color, c->label);
        first = 0;
    }
    if (p->nrefs > 0 && p->ref_label != NULL)
        fprintf(g, ", NaN with lines dt 2 lc rgb '#d62728' title '%s'",
                p->ref_label);
    fputs("\n", g);
    const int status = pclose(g);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(msg, len, "gnuplot failed to write %s (status %d)", path,
                 status);
        return -1;
    }
    return 0;
}
