/* smpi_charge.c - under SimGrid's SMPI, charge simulated time for the
 * program's own computing only, through the MPI profiling interface.
 *
 * The problem: SMPI's default charging times every stretch between two
 * MPI calls on this machine's core and charges it at the platform's host
 * speed.  The stretch includes SMPI's own code on the way out of one call
 * and into the next, run with caches that the simulation of every other
 * rank has just used.  Measured with an empty round of 7 MPI_Irecv, 7
 * MPI_Isend and one MPI_Waitall (no computing at all): 19 us network only
 * and 94 us charged at 64 ranks, 21 us and 258 us at 1024.  That is the
 * simulator's work, not anything a Blue Gene/P would spend, and it grows
 * with the rank count.
 *
 * What this does instead: run with smpi/simulate-computation:0 (SMPI
 * charges nothing) and wrap the MPI calls a frame makes.  Each wrapper
 * reads this thread's CPU clock on entry, charges what the program
 * computed since the previous call returned with smpi_execute() (scaled
 * to the platform's host speed like SMPI's own charge), makes the call,
 * and reads the clock again on return.  The calls are the weak MPI_
 * symbols SMPI defines, so the compositor's own object code is unchanged;
 * the real calls are the PMPI_ ones.  All simulated ranks share this
 * thread, but between a call's return and the next call only one rank
 * runs, so the difference is that rank's own computing.  What is still
 * charged beyond a real node's cost: the program's cache misses after the
 * other ranks ran (pessimistic, as before).
 *
 * Charging is on only between smpi_charge_begin() and smpi_charge_end(),
 * so rendering the tiles stays outside the frame.
 */
#include "smpi_charge.h"

#include <mpi.h>
#include <smpi/smpi.h>
#include <stdbool.h>
#include <time.h>

/* smpicc's helpers turn clock_gettime() into SMPI's simulated clock; this
 * file wants the machine's. */
#undef clock_gettime

/* One per simulated rank: SMPI privatizes this file's globals. */
static bool charging, inside;
static double mark, charged_total;

/* The machine's monotonic clock in seconds (the vDSO's: tens of
 * nanoseconds a read, where the thread's CPU clock is a system call that
 * would charge itself). */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Entering a call: charge this rank's computing since the last return. */
static bool enter(void)
{
    if (!charging || inside)
        return false;
    inside = true;
    double now = cpu_now();
    if (now > mark) {
        smpi_execute(now - mark);
        charged_total += now - mark;
    }
    return true;
}

static void leave(bool entered)
{
    if (!entered)
        return;
    inside = false;
    mark = cpu_now();
}

void smpi_charge_begin(void)
{
    charging = true;
    inside = false;
    mark = cpu_now();
}

double smpi_charge_end(void)
{
    bool e = enter();
    leave(e);
    charging = false;
    double total = charged_total;
    charged_total = 0;
    return total;
}

#define WRAP(name, params, args)                                                                   \
    int name params                                                                                \
    {                                                                                              \
        bool e = enter();                                                                          \
        int rc = P##name args;                                                                     \
        leave(e);                                                                                  \
        return rc;                                                                                 \
    }

WRAP(MPI_Isend,
     (const void *buf, int count, MPI_Datatype type, int dst, int tag, MPI_Comm comm,
      MPI_Request *req),
     (buf, count, type, dst, tag, comm, req))
WRAP(MPI_Irecv,
     (void *buf, int count, MPI_Datatype type, int src, int tag, MPI_Comm comm, MPI_Request *req),
     (buf, count, type, src, tag, comm, req))
WRAP(MPI_Send, (const void *buf, int count, MPI_Datatype type, int dst, int tag, MPI_Comm comm),
     (buf, count, type, dst, tag, comm))
WRAP(MPI_Recv,
     (void *buf, int count, MPI_Datatype type, int src, int tag, MPI_Comm comm, MPI_Status *st),
     (buf, count, type, src, tag, comm, st))
WRAP(MPI_Sendrecv,
     (const void *sbuf, int scount, MPI_Datatype stype, int dst, int stag, void *rbuf, int rcount,
      MPI_Datatype rtype, int src, int rtag, MPI_Comm comm, MPI_Status *st),
     (sbuf, scount, stype, dst, stag, rbuf, rcount, rtype, src, rtag, comm, st))
WRAP(MPI_Wait, (MPI_Request * req, MPI_Status *st), (req, st))
WRAP(MPI_Waitall, (int n, MPI_Request *req, MPI_Status *st), (n, req, st))
WRAP(MPI_Waitany, (int n, MPI_Request *req, int *index, MPI_Status *st), (n, req, index, st))
WRAP(MPI_Waitsome, (int n, MPI_Request *req, int *outcount, int *indices, MPI_Status *st),
     (n, req, outcount, indices, st))
WRAP(MPI_Barrier, (MPI_Comm comm), (comm))
WRAP(MPI_Bcast, (void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm),
     (buf, count, type, root, comm))
WRAP(MPI_Reduce,
     (const void *s, void *r, int count, MPI_Datatype type, MPI_Op op, int root, MPI_Comm comm),
     (s, r, count, type, op, root, comm))
WRAP(MPI_Allreduce,
     (const void *s, void *r, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm),
     (s, r, count, type, op, comm))
WRAP(MPI_Allgather,
     (const void *s, int scount, MPI_Datatype stype, void *r, int rcount, MPI_Datatype rtype,
      MPI_Comm comm),
     (s, scount, stype, r, rcount, rtype, comm))
WRAP(MPI_Alltoall,
     (const void *s, int scount, MPI_Datatype stype, void *r, int rcount, MPI_Datatype rtype,
      MPI_Comm comm),
     (s, scount, stype, r, rcount, rtype, comm))
WRAP(MPI_Gather,
     (const void *s, int scount, MPI_Datatype stype, void *r, int rcount, MPI_Datatype rtype,
      int root, MPI_Comm comm),
     (s, scount, stype, r, rcount, rtype, root, comm))
WRAP(MPI_Gatherv,
     (const void *s, int scount, MPI_Datatype stype, void *r, const int *rcounts, const int *displs,
      MPI_Datatype rtype, int root, MPI_Comm comm),
     (s, scount, stype, r, rcounts, displs, rtype, root, comm))

/* The frame's timer: charges what ran since the last call first. */
double MPI_Wtime(void)
{
    bool e = enter();
    double t = PMPI_Wtime();
    leave(e);
    return t;
}
