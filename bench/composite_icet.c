/* composite_icet.c - IceT as a peer of zc's compositing: a context set up
 * for pre-rendered, ordered, premultiplied float images, and IceT's
 * communicator over MPI, written here.
 *
 * Why our own communicator: IceT's core library calls the network only
 * through the function table of struct IceTCommunicatorStruct, so with the
 * table filled here the peer needs no IceT MPI library (built against one
 * MPI), and the same source builds with mpicc and with SimGrid's smpicc.
 * Each entry is the MPI call of the same name, with IceT's datatypes
 * mapped to MPI's; the table also counts what the rank sends, so IceT's
 * bytes are measured exactly as zc's are:
 *
 *   point to point   count * width of the type, to whichever rank
 *   gather(v)        what a non-root rank contributes (the root keeps its own)
 *   allgather        the contribution, once for each other rank
 *   alltoall         one block for each other rank
 *
 * Every communicator IceT derives (Duplicate, Subset) shares one counter
 * with the one the context was made from.
 */
#include "composite_icet.h"

#include "zc/composite.h"

#include <IceT.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

/* IceT sets radix-k's largest group from the environment only; this
 * function (exported by the core library, declared in a development header
 * that Debian does not ship) sets that state in the current context. */
void icetStateSetInteger(IceTEnum pname, IceTInt value);

/* What leaves this rank in a frame, and the first MPI failure. */
struct peer_count {
    uint64_t sent, collective;
    int err;
};

struct peer_comm {
    MPI_Comm comm;
    struct peer_count *count;
};

struct peer_request {
    struct IceTCommRequestStruct head; /* what IceT holds; internals -> req */
    MPI_Request req;
};

struct icet_peer {
    IceTContext ctx;
    MPI_Comm comm; /* for the ranks' agreement on errors, never inside IceT */
    struct peer_count count;
    int width, height, rank, size;
    enum icet_peer_color color;
    uint8_t *tile8; /* ICET_PEER_UBYTE: this rank's tile at 8 bits */
};

/* "icet" in ASCII: marks the requests this table made. */
#define PEER_REQUEST_MAGIC ((IceTEnum)0x74656369)

/* IceT's "the data is already in place in the receive buffer" (its
 * development headers' ICET_IN_PLACE_COLLECT). */
#define PEER_IN_PLACE ((const void *)-1)

static struct peer_comm *comm_of(IceTCommunicator self)
{
    return (struct peer_comm *)self->data;
}

/* Records an MPI failure; IceT's callbacks return nothing, so the frame
 * learns of it when it ends. */
static void note(IceTCommunicator self, int mpi_rc)
{
    struct peer_count *n = comm_of(self)->count;
    if (mpi_rc != MPI_SUCCESS && !n->err)
        n->err = -EIO;
}

static MPI_Datatype mpi_type(IceTEnum t, size_t *width)
{
    switch (t) {
    case ICET_SHORT:
        *width = sizeof(short);
        return MPI_SHORT;
    case ICET_INT:
        *width = sizeof(int);
        return MPI_INT;
    case ICET_FLOAT:
        *width = sizeof(float);
        return MPI_FLOAT;
    case ICET_DOUBLE:
        *width = sizeof(double);
        return MPI_DOUBLE;
    default: /* ICET_BYTE, ICET_BOOLEAN: IceT has no other types */
        *width = 1;
        return MPI_BYTE;
    }
}

/* Adds count elements of type t times copies to this rank's bytes. */
static MPI_Datatype counted(IceTCommunicator self, IceTEnum t, int count, int copies,
                            bool collective)
{
    size_t width;
    MPI_Datatype dt = mpi_type(t, &width);
    uint64_t bytes =
        (uint64_t)width * (uint64_t)(count > 0 ? count : 0) * (uint64_t)(copies > 0 ? copies : 0);
    comm_of(self)->count->sent += bytes;
    if (collective)
        comm_of(self)->count->collective += bytes;
    return dt;
}

static int comm_size(IceTCommunicator self)
{
    int n = 0;
    note(self, MPI_Comm_size(comm_of(self)->comm, &n));
    return n;
}

static int comm_rank(IceTCommunicator self)
{
    int r = 0;
    note(self, MPI_Comm_rank(comm_of(self)->comm, &r));
    return r;
}

static IceTCommunicator wrap(MPI_Comm comm, struct peer_count *count);

static IceTCommunicator duplicate(IceTCommunicator self)
{
    MPI_Comm dup;
    int rc = MPI_Comm_dup(comm_of(self)->comm, &dup);
    note(self, rc);
    return rc == MPI_SUCCESS ? wrap(dup, comm_of(self)->count) : ICET_COMM_NULL;
}

/* Collective over self: the ranks listed, in that order; ICET_COMM_NULL
 * on the ranks left out. */
static IceTCommunicator subset(IceTCommunicator self, int n, const IceTInt32 *ranks)
{
    MPI_Group all, some;
    MPI_Comm sub = MPI_COMM_NULL;
    note(self, MPI_Comm_group(comm_of(self)->comm, &all));
    note(self, MPI_Group_incl(all, n, ranks, &some));
    note(self, MPI_Comm_create(comm_of(self)->comm, some, &sub));
    MPI_Group_free(&some);
    MPI_Group_free(&all);
    return sub == MPI_COMM_NULL ? ICET_COMM_NULL : wrap(sub, comm_of(self)->count);
}

static void destroy(IceTCommunicator self)
{
    MPI_Comm_free(&comm_of(self)->comm);
    free(self->data);
    free(self);
}

static void barrier(IceTCommunicator self)
{
    note(self, MPI_Barrier(comm_of(self)->comm));
}

static void send(IceTCommunicator self, const void *buf, int count, IceTEnum t, int dest, int tag)
{
    MPI_Datatype dt = counted(self, t, count, 1, false);
    note(self, MPI_Send(buf, count, dt, dest, tag, comm_of(self)->comm));
}

static void recv(IceTCommunicator self, void *buf, int count, IceTEnum t, int src, int tag)
{
    size_t width;
    note(self, MPI_Recv(buf, count, mpi_type(t, &width), src, tag, comm_of(self)->comm,
                        MPI_STATUS_IGNORE));
}

static void sendrecv(IceTCommunicator self, const void *sbuf, int scount, IceTEnum stype, int dest,
                     int stag, void *rbuf, int rcount, IceTEnum rtype, int src, int rtag)
{
    size_t width;
    MPI_Datatype sdt = counted(self, stype, scount, 1, false);
    note(self, MPI_Sendrecv(sbuf, scount, sdt, dest, stag, rbuf, rcount, mpi_type(rtype, &width),
                            src, rtag, comm_of(self)->comm, MPI_STATUS_IGNORE));
}

static void gather(IceTCommunicator self, const void *sbuf, int count, IceTEnum t, void *rbuf,
                   int root)
{
    bool kept = sbuf == PEER_IN_PLACE || comm_rank(self) == root;
    MPI_Datatype dt = counted(self, t, count, kept ? 0 : 1, true);
    note(self, MPI_Gather(sbuf == PEER_IN_PLACE ? MPI_IN_PLACE : sbuf, count, dt, rbuf, count, dt,
                          root, comm_of(self)->comm));
}

static void gatherv(IceTCommunicator self, const void *sbuf, int count, IceTEnum t, void *rbuf,
                    const int *rcounts, const int *offsets, int root)
{
    bool kept = sbuf == PEER_IN_PLACE || comm_rank(self) == root;
    MPI_Datatype dt = counted(self, t, count, kept ? 0 : 1, true);
    note(self, MPI_Gatherv(sbuf == PEER_IN_PLACE ? MPI_IN_PLACE : sbuf, count, dt, rbuf, rcounts,
                           offsets, dt, root, comm_of(self)->comm));
}

static void allgather(IceTCommunicator self, const void *sbuf, int count, IceTEnum t, void *rbuf)
{
    MPI_Datatype dt = counted(self, t, count, comm_size(self) - 1, true);
    note(self, MPI_Allgather(sbuf == PEER_IN_PLACE ? MPI_IN_PLACE : sbuf, count, dt, rbuf, count,
                             dt, comm_of(self)->comm));
}

static void alltoall(IceTCommunicator self, const void *sbuf, int count, IceTEnum t, void *rbuf)
{
    MPI_Datatype dt = counted(self, t, count, comm_size(self) - 1, true);
    note(self, MPI_Alltoall(sbuf, count, dt, rbuf, count, dt, comm_of(self)->comm));
}

static IceTCommRequest new_request(IceTCommunicator self)
{
    struct peer_request *r = malloc(sizeof(*r));
    if (!r) {
        note(self, MPI_ERR_NO_MEM);
        return ICET_COMM_REQUEST_NULL;
    }
    r->head.magic_number = PEER_REQUEST_MAGIC;
    r->head.internals = &r->req;
    r->req = MPI_REQUEST_NULL;
    return &r->head;
}

/* The MPI request behind an IceT one (MPI_REQUEST_NULL for none or for a
 * request this table did not make). */
static MPI_Request *request_of(IceTCommRequest r)
{
    if (r == ICET_COMM_REQUEST_NULL || r->magic_number != PEER_REQUEST_MAGIC)
        return NULL;
    return (MPI_Request *)r->internals;
}

static void free_request(IceTCommRequest *r)
{
    if (*r != ICET_COMM_REQUEST_NULL)
        free((struct peer_request *)((char *)*r - offsetof(struct peer_request, head)));
    *r = ICET_COMM_REQUEST_NULL;
}

static IceTCommRequest isend(IceTCommunicator self, const void *buf, int count, IceTEnum t,
                             int dest, int tag)
{
    IceTCommRequest r = new_request(self);
    MPI_Datatype dt = counted(self, t, count, 1, false);
    if (r)
        note(self, MPI_Isend(buf, count, dt, dest, tag, comm_of(self)->comm, request_of(r)));
    return r;
}

static IceTCommRequest irecv(IceTCommunicator self, void *buf, int count, IceTEnum t, int src,
                             int tag)
{
    IceTCommRequest r = new_request(self);
    size_t width;
    if (r)
        note(self, MPI_Irecv(buf, count, mpi_type(t, &width), src, tag, comm_of(self)->comm,
                             request_of(r)));
    return r;
}

static void wait_one(IceTCommunicator self, IceTCommRequest *r)
{
    MPI_Request *req = request_of(*r);
    if (req)
        note(self, MPI_Wait(req, MPI_STATUS_IGNORE));
    free_request(r);
}

/* Waits for one of the n requests, frees it and returns its index; -1
 * when none is active or MPI failed. */
static int wait_any(IceTCommunicator self, int n, IceTCommRequest *rs)
{
    MPI_Request *reqs = malloc((size_t)(n > 0 ? n : 1) * sizeof(*reqs));
    if (!reqs) {
        note(self, MPI_ERR_NO_MEM);
        return -1;
    }
    for (int i = 0; i < n; i++)
        reqs[i] = request_of(rs[i]) ? *request_of(rs[i]) : MPI_REQUEST_NULL;
    int idx = MPI_UNDEFINED;
    note(self, MPI_Waitany(n, reqs, &idx, MPI_STATUS_IGNORE));
    free(reqs);
    if (idx == MPI_UNDEFINED || idx < 0 || idx >= n)
        return -1;
    free_request(&rs[idx]);
    return idx;
}

static IceTCommunicator wrap(MPI_Comm comm, struct peer_count *count)
{
    IceTCommunicator c = malloc(sizeof(*c));
    struct peer_comm *pc = malloc(sizeof(*pc));
    if (!c || !pc) {
        free(c);
        free(pc);
        MPI_Comm_free(&comm);
        count->err = count->err ? count->err : -ENOMEM;
        return ICET_COMM_NULL;
    }
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    *pc = (struct peer_comm){comm, count};
    *c = (struct IceTCommunicatorStruct){.Duplicate = duplicate,
                                         .Destroy = destroy,
                                         .Subset = subset,
                                         .Barrier = barrier,
                                         .Send = send,
                                         .Recv = recv,
                                         .Sendrecv = sendrecv,
                                         .Gather = gather,
                                         .Gatherv = gatherv,
                                         .Allgather = allgather,
                                         .Alltoall = alltoall,
                                         .Isend = isend,
                                         .Irecv = irecv,
                                         .Wait = wait_one,
                                         .Waitany = wait_any,
                                         .Comm_size = comm_size,
                                         .Comm_rank = comm_rank,
                                         .data = pc};
    return c;
}

static IceTEnum strategy_of(enum icet_peer_algo a)
{
    switch (a) {
    case ICET_PEER_BSWAP:
        return ICET_SINGLE_IMAGE_STRATEGY_BSWAP;
    case ICET_PEER_RADIXK:
        return ICET_SINGLE_IMAGE_STRATEGY_RADIXK;
    case ICET_PEER_TREE:
        return ICET_SINGLE_IMAGE_STRATEGY_TREE;
    default:
        return ICET_SINGLE_IMAGE_STRATEGY_AUTOMATIC;
    }
}

/* The current context's settings: one tile of the whole image shown at
 * rank 0; float RGBA without depth, blended front to back in the order
 * given each frame (IceT's "over" is zc's: dest = front + (1 - front.a) *
 * back, premultiplied); every rank in one single-image composite. */
static int configure(const struct icet_peer *p, enum icet_peer_algo algo, int magic_k)
{
    icetDiagnostics(ICET_DIAG_ERRORS | ICET_DIAG_ALL_NODES);
    icetResetTiles();
    if (icetAddTile(0, 0, p->width, p->height, 0) < 0)
        return -EINVAL;
    icetSetColorFormat(p->color == ICET_PEER_UBYTE ? ICET_IMAGE_COLOR_RGBA_UBYTE
                                                   : ICET_IMAGE_COLOR_RGBA_FLOAT);
    icetSetDepthFormat(ICET_IMAGE_DEPTH_NONE);
    icetCompositeMode(ICET_COMPOSITE_MODE_BLEND);
    icetEnable(ICET_ORDERED_COMPOSITE);
    icetStrategy(ICET_STRATEGY_SEQUENTIAL);
    icetSingleImageStrategy(strategy_of(algo));
    if (magic_k)
        icetStateSetInteger(ICET_MAGIC_K, magic_k);
    return icetGetError() == ICET_NO_ERROR ? 0 : -EIO;
}

/* The same answer on every rank: the worst of each rank's err. */
static int agree(MPI_Comm comm, int err)
{
    int worst = err;
    if (MPI_Allreduce(&err, &worst, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
        return -EIO;
    return worst;
}

int icet_peer_open(struct icet_peer **out, MPI_Comm comm, int width, int height,
                   enum icet_peer_algo algo, int magic_k, enum icet_peer_color color)
{
    *out = NULL;
    if (width <= 0 || height <= 0 || algo < ICET_PEER_BSWAP || algo > ICET_PEER_AUTO ||
        magic_k < 0 || magic_k == 1 || (color != ICET_PEER_FLOAT && color != ICET_PEER_UBYTE))
        return -EINVAL;
    struct icet_peer *p = calloc(1, sizeof(*p));
    uint8_t *tile8 = color == ICET_PEER_UBYTE ? calloc((size_t)width * height, 4) : NULL;
    MPI_Comm dup;
    int err = agree(comm, p && (tile8 || color == ICET_PEER_FLOAT) ? 0 : -ENOMEM);
    if (err) {
        free(p);
        free(tile8);
        return err;
    }
    *p = (struct icet_peer){
        .comm = MPI_COMM_NULL, .width = width, .height = height, .color = color, .tile8 = tile8};
    if (MPI_Comm_dup(comm, &p->comm) != MPI_SUCCESS || MPI_Comm_dup(comm, &dup) != MPI_SUCCESS) {
        icet_peer_close(p);
        return -EIO;
    }
    MPI_Comm_rank(comm, &p->rank);
    MPI_Comm_size(comm, &p->size);
    IceTCommunicator ic = wrap(dup, &p->count);
    /* The context keeps a duplicate of ic: ours goes at once. */
    p->ctx = ic ? icetCreateContext(ic) : NULL;
    if (ic)
        ic->Destroy(ic);
    err = p->ctx ? configure(p, algo, magic_k) : -ENOMEM;
    err = agree(comm, err ? err : p->count.err);
    if (err) {
        icet_peer_close(p);
        return err;
    }
    *out = p;
    return 0;
}

/* 0 when order lists every rank once and valid lies in the image. */
static int check_frame(const struct icet_peer *p, const int valid[4], const int *order)
{
    if (valid[0] < 0 || valid[1] < 0 || valid[2] < 0 || valid[3] < 0 ||
        valid[0] > p->width - valid[2] || valid[1] > p->height - valid[3])
        return -EINVAL;
    char *seen = calloc((size_t)p->size, 1);
    if (!seen)
        return -ENOMEM;
    int err = 0;
    for (int i = 0; i < p->size && !err; i++) {
        if (order[i] < 0 || order[i] >= p->size || seen[order[i]])
            err = -EINVAL;
        else
            seen[order[i]] = 1;
    }
    free(seen);
    return err;
}

/* The root's image out of IceT's result into out. */
static int take_image(const struct icet_peer *p, IceTImage image, struct zc_fb *out)
{
    if (icetImageIsNull(image) || icetImageGetWidth(image) != p->width ||
        icetImageGetHeight(image) != p->height)
        return -EIO;
    if (p->color == ICET_PEER_FLOAT)
        return zc_composite_to_fb(icetImageGetColorcf(image), out);
    /* Premultiplied over black: the colour as it is, opaque. */
    const uint8_t *c = icetImageGetColorcub(image);
    int err = zc_fb_touch_rect(out, 0, 0, (unsigned)p->width, (unsigned)p->height);
    for (int y = 0; y < p->height && !err; y++) {
        uint32_t *row = zc_fb_row(out, (unsigned)y);
        for (int x = 0; x < p->width; x++, c += 4)
            row[x] = ZC_FB_RGBA(c[0], c[1], c[2], 255);
    }
    return err;
}

static uint8_t to_u8(float v)
{
    return v <= 0 ? 0 : v >= 1 ? 255 : (uint8_t)(v * 255.0f + 0.5f);
}

/* The valid rectangle of the float tile at 8 bits (the rest stays 0). */
static void round_tile(struct icet_peer *p, const float *rgba, const int valid[4])
{
    for (int y = valid[1]; y < valid[1] + valid[3]; y++)
        for (int x = valid[0]; x < valid[0] + valid[2]; x++) {
            size_t i = ((size_t)y * p->width + x) * 4;
            for (int k = 0; k < 4; k++)
                p->tile8[i + k] = to_u8(rgba[i + k]);
        }
}

int icet_peer_run(struct icet_peer *p, const float *rgba, const int valid[4], const int *order,
                  struct zc_fb *out, struct icet_peer_stats *st)
{
    int err = check_frame(p, valid, order);
    if (!err && p->rank == 0 &&
        (!out || zc_fb_width(out) != (unsigned)p->width ||
         zc_fb_height(out) != (unsigned)p->height))
        err = -EINVAL;
    /* A rank that cannot take part must not leave the others inside IceT. */
    if ((err = agree(p->comm, err)))
        return err;
    icetSetContext(p->ctx);
    icetGetError(); /* clears what an earlier frame left */
    if (p->color == ICET_PEER_UBYTE)
        round_tile(p, rgba, valid);
    p->count = (struct peer_count){0, 0, 0};
    double t0 = MPI_Wtime();
    /* IceT's image rows are ours as stored: its y counts rows from the
     * start of the buffer, here the top row. */
    const IceTFloat background[4] = {0, 0, 0, 0};
    icetCompositeOrder(order);
    IceTImage image = icetCompositeImage(p->color == ICET_PEER_UBYTE ? (const void *)p->tile8
                                                                     : (const void *)rgba,
                                         NULL, valid, NULL, NULL, background);
    double dt = MPI_Wtime() - t0;
    if (!err && icetGetError() != ICET_NO_ERROR)
        err = -EIO;
    if (!err && p->rank == 0)
        err = take_image(p, image, out);
    if (st)
        *st = (struct icet_peer_stats){dt, p->count.sent, p->count.collective};
    return err ? err : p->count.err;
}

void icet_peer_close(struct icet_peer *p)
{
    if (!p)
        return;
    if (p->ctx)
        icetDestroyContext(p->ctx);
    if (p->comm != MPI_COMM_NULL)
        MPI_Comm_free(&p->comm);
    free(p->tile8);
    free(p);
}
