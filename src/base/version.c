/* version.c - the library's version string. */
#include "zc/base.h"

const char *zc_version(void)
{
    return ZC_VERSION_STRING;
}
