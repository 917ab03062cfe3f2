/* smpi_charge.h - charging simulated time for the program's own computing
 * under SimGrid's SMPI (smpi_charge.c says why and how).  Linked only into
 * the smpicc builds of the compositing benchmarks, which call these when
 * built with ZC_SMPI_CHARGE. */
#ifndef ZC_BENCH_SMPI_CHARGE_H
#define ZC_BENCH_SMPI_CHARGE_H

/* From here, every wrapped MPI call first charges the computing since the
 * previous one returned. */
void smpi_charge_begin(void);
/* Charges what is left and stops; the CPU seconds charged since begin
 * (this machine's, before scaling to the platform). */
double smpi_charge_end(void);

#endif
