/*
 * model_cache.h - the binary model cache (private; model_cache.c).
 */
#ifndef RPR_MODEL_CACHE_H
#define RPR_MODEL_CACHE_H

#include <stddef.h>
#include <sys/stat.h>

#include "model.h"

/* Read a whole regular file into a NUL-terminated buffer *text of *len
 * bytes (aligned to MODEL_ALIGN; free() it), and its stat into *st_out
 * unless NULL.  RPR_EIO naming the path (cannot open or stat, not a
 * regular file, read error, too large), RPR_ENOMEM. */
rpr_status model_cache_slurp(const char *path, char **text, size_t *len,
                             struct stat *st_out, rpr_error *err);

/* Parse the text (NUL-terminated, len bytes) of the model file path. */
typedef rpr_status (*model_cache_parse_fn)(const char *path, const char *text,
                                           size_t len, rpr_model **model,
                                           rpr_error *err);

/* rpr_model_load_cached (rpr.h) with the XML parser passed in, so that
 * this file needs no libxml2. */
rpr_status model_cache_load(const char *xml_path, const char *cache_path,
                            model_cache_parse_fn parse, rpr_model **model,
                            rpr_error *err);

#endif /* RPR_MODEL_CACHE_H */
