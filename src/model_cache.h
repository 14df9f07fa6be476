/*
 * model_cache.h - the binary model cache (private; model_cache.c).
 */
#ifndef RPR_MODEL_CACHE_H
#define RPR_MODEL_CACHE_H

#include <stddef.h>

#include "model.h"

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
