/* cmd_insitu.c - not built yet: each command says so and fails cleanly. */
#include "zc/base.h"
#include "cmd.h"

int cmd_insitu(int argc, char **argv)
{
    zc_error("insitu is not built yet");
    return ZC_EXIT_FAIL;
}
