/* cmd_seal.c - not built yet: each command says so and fails cleanly. */
#include "zc/base.h"
#include "cmd.h"

int cmd_broker(int argc, char **argv)
{
    zc_error("broker is not built yet");
    return ZC_EXIT_FAIL;
}

int cmd_channel(int argc, char **argv)
{
    zc_error("channel is not built yet");
    return ZC_EXIT_FAIL;
}
