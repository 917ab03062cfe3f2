/* cmd_keygen.c - not built yet: each command says so and fails cleanly. */
#include "zc/base.h"
#include "cmd.h"

int cmd_keygen(int argc, char **argv)
{
    zc_error("keygen is not built yet");
    return ZC_EXIT_FAIL;
}
