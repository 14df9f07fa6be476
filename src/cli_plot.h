/*
 * cli_plot.h - line plots of spectra for the rpr program: SVG written
 * directly, PNG through gnuplot.  One panel, a few curves, each with an
 * optional error band, and optional vertical reference lines.
 */
#ifndef RPR_CLI_PLOT_H
#define RPR_CLI_PLOT_H

#include <stddef.h>
#include <stdio.h>

typedef struct cli_plot_curve {
    const double *y;   /* [n] */
    const double *err; /* [n] half-width of the band (y - err, y + err), or
                          NULL; a NaN anywhere drops the band */
    const char *label;
    const char *color; /* "#rrggbb" */
    double width;      /* line width in px */
} cli_plot_curve;

typedef struct cli_plot {
    const char *title; /* may be NULL */
    const char *note;  /* second, smaller title line, or NULL */
    const char *xlabel, *ylabel;
    size_t n;
    const double *x; /* [n], increasing */
    size_t ncurves;
    const cli_plot_curve *curves;
    size_t nrefs;
    const double *refs;    /* x of vertical reference lines */
    const char *ref_label; /* legend entry of the reference lines */
    double xmin, xmax;     /* shown x range */
    double yscale_from;    /* the y range covers points with x >= this */
} cli_plot;

/* The y range both writers use: [lo, hi] over the shown x range from
 * yscale_from on, including the bands, with 0 inside and 5 % headroom. */
void cli_plot_yrange(const cli_plot *p, double *lo, double *hi);

/* Write an SVG document; 0 on success, -1 if the stream failed. */
int cli_plot_svg(FILE *f, const cli_plot *p);

/* Render a PNG through gnuplot (pngcairo).  0 on success; otherwise -1
 * with a message in msg (gnuplot missing or failing, bad path). */
int cli_plot_png(const char *path, const cli_plot *p, char *msg, size_t len);

#endif /* RPR_CLI_PLOT_H */
