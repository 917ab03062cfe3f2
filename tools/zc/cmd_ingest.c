/* cmd_ingest.c - not built yet: each command says so and fails cleanly. */
#include "zc/base.h"
#include "cmd.h"

int cmd_ingest(int argc, char **argv)
{
    zc_error("ingest is not built yet");
    return ZC_EXIT_FAIL;
}
