/* cmd_demo.c - not built yet: each command says so and fails cleanly. */
#include "zc/base.h"
#include "cmd.h"

int cmd_demo(int argc, char **argv)
{
    zc_error("demo is not built yet");
    return ZC_EXIT_FAIL;
}
