/* seal.c - not built yet: each command says so and fails cleanly. */
#include "zc/base.h"
#include "../tools/zc/cmd.h"

int cmd_bench_seal(int argc, char **argv)
{
    zc_error("bench seal is not built yet");
    return ZC_EXIT_FAIL;
}
