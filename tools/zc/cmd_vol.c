/* cmd_vol.c - not built yet: each command says so and fails cleanly. */
#include "zc/base.h"
#include "cmd.h"

int cmd_render(int argc, char **argv)
{
    zc_error("render is not built yet");
    return ZC_EXIT_FAIL;
}

int cmd_mesh(int argc, char **argv)
{
    zc_error("mesh is not built yet");
    return ZC_EXIT_FAIL;
}
