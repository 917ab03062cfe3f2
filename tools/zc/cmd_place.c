/* cmd_place.c - not built yet: each command says so and fails cleanly. */
#include "zc/base.h"
#include "cmd.h"

int cmd_serve(int argc, char **argv)
{
    zc_error("serve is not built yet");
    return ZC_EXIT_FAIL;
}

int cmd_put(int argc, char **argv)
{
    zc_error("put is not built yet");
    return ZC_EXIT_FAIL;
}

int cmd_get(int argc, char **argv)
{
    zc_error("get is not built yet");
    return ZC_EXIT_FAIL;
}
