/* test_status.c - status texts, the error record, the version. */
#include <config.h>

#include <string.h>

#include "internal.h"
#include "testutil.h"

int main(void)
{
    /* Every code has its own text; past the end there is still a text. */
    for (int i = 0; i < RPR_STATUS_COUNT; i++) {
        const char *s = rpr_strerror((rpr_status) i);
        CHECK(s != NULL && strcmp(s, "unknown status") != 0);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(s, rpr_strerror((rpr_status) j)) != 0);
    }
    CHECK(strcmp(rpr_strerror(RPR_STATUS_COUNT), "unknown status") == 0);

    rpr_error err;
    memset(&err, 0, sizeof err);
    CHECK(RPR_FAIL(&err, RPR_EPARSE, "%s:%d: bad", "f.xyz", 3) == RPR_EPARSE);
    CHECK(err.status == RPR_EPARSE);
    CHECK(strcmp(err.message, "f.xyz:3: bad") == 0);
    CHECK(err.src_line > 0 && strstr(err.src_file, "test_status.c") != NULL);
    error_prefix(&err, "rpr train");
    CHECK(strcmp(err.message, "rpr train: f.xyz:3: bad") == 0);
    /* A NULL error record is allowed everywhere. */
    CHECK(RPR_FAIL(NULL, RPR_EIO, "ignored") == RPR_EIO);
    error_prefix(NULL, "ignored");

    /* One version, from configure.ac, seen the same by header and library. */
    CHECK(strcmp(rpr_version(), RPR_VERSION_STRING) == 0);
    char v[64];
    snprintf(v, sizeof v, "%d.%d.%d", RPR_VERSION_MAJOR, RPR_VERSION_MINOR,
             RPR_VERSION_PATCH);
    CHECK(strcmp(v, RPR_VERSION_STRING) == 0);
    return test_exit("test_status");
}
