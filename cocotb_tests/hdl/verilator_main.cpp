// Copyright cocotb contributors
// Licensed under the Revised BSD License, see LICENSE for details.
// SPDX-License-Identifier: BSD-3-Clause
//
// cocotb 2.1's Verilator main (share/lib/verilator/verilator.cpp) with one addition, marked
// "DRTP fast path" below; cocotb_tests/simsetup.py builds it in place of the original.
//
// Why: the benches sleep through a sample on one Timer, so for ~50k clock edges no Python code can
// run, yet cocotb's loop makes about a dozen VPI calls per time slot (value, read-write, read-only,
// next-time and timed callback lists, inertial writes), each finding nothing to do. On the paper
// engine that was as much time as the model's own evaluation. The fast path evaluates the model
// alone for the time slots in which every one of those calls would be a no-op: no callback of any
// kind is registered for the slot, no timed callback is due, no write is pending. The first slot
// that needs Python goes through cocotb's loop unchanged, so behaviour is the same.
//
// Built with DRTP_HALF_PERIOD (time units), the main also makes the bench top's clock ("DRTP
// clock"): `clk` starts low and toggles every DRTP_HALF_PERIOD, applied at the start of the time
// slot's evaluation, where the Verilog `always #HALF_PERIOD clk = ~clk` of the Icarus build toggles
// it (after the slot's timed callbacks). That needs no --timing, whose coroutine per edge cost a
// fifth of each cycle.

#include <libgen.h>  // basename
#include <stdio.h>   // stderr, fprintf

#include <memory>  // std::unique_ptr
#include <string>  // std::string

#include "Vtop.h"
#include "verilated.h"
#include "verilated_vpi.h"

#ifndef VM_TRACE_FST
// emulate new verilator behavior for legacy versions
#define VM_TRACE_FST 0
#endif

#if VM_TRACE
#if VM_TRACE_FST
#include <verilated_fst_c.h>
using verilated_trace_t = VerilatedFstC;
#elif VM_TRACE_SAIF
#include <verilated_saif_c.h>
using verilated_trace_t = VerilatedSaifC;
#else
// VM_TRACE_VCD
#include <verilated_vcd_c.h>
using verilated_trace_t = VerilatedVcdC;
#endif
static verilated_trace_t *tfp;
#endif

static vluint64_t main_time = 0;  // Current simulation time

#ifdef DRTP_HALF_PERIOD
// DRTP clock: the next time `clk` toggles, and the last slot it toggled in
static vluint64_t clock_next = DRTP_HALF_PERIOD;
static vluint64_t clock_done = ~0ULL;
template <typename T>
static inline void clock_edge(T &top) {
    if (main_time == clock_next && clock_done != main_time) {
        top->clk = !top->clk;
        clock_done = main_time;
        clock_next += DRTP_HALF_PERIOD;
    }
}
static inline vluint64_t clock_next_time() { return clock_next; }
#else
template <typename T>
static inline void clock_edge(T &) {}
static inline vluint64_t clock_next_time() { return ~0ULL; }
#endif
#if VM_COVERAGE
static bool coverage_per_instance = false;
#endif

double sc_time_stamp() {  // Called by $time in Verilog
    return main_time;     // converts to double, to match
                          // what SystemC does
}

extern "C" {
void vlog_startup_routines_bootstrap(void);
}

static inline bool settle_value_callbacks() {
    bool cbs_called, again;

    // Call Value Change callbacks
    // These can modify signal values so we loop
    // until there are no more changes
    cbs_called = again = VerilatedVpi::callValueCbs();
    while (again) {
        again = VerilatedVpi::callValueCbs();
    }

    return cbs_called;
}

void wrap_up() {
    VerilatedVpi::callCbs(cbEndOfSimulation);

#if VM_TRACE
    if (tfp) {
        // We don't delete the trace object to avoid deadlock in verilator sims.
        tfp->close();
    }
#endif

    // VM_COVERAGE is a define which is set if Verilator is
    // instructed to collect coverage (when compiling the simulation)
#if VM_COVERAGE
    if (coverage_per_instance) {
        Verilated::threadContextp()->coveragep()->forcePerInstance(true);
    }
    VerilatedCov::write();  // Uses +verilator+coverage+file+<filename>,
                            // defaults to coverage.dat
#endif
}

int main(int argc, char **argv) {
#if VM_TRACE_FST
    const char *traceFile = "dump.fst";
#elif VM_TRACE_SAIF
    const char *traceFile = "dump.saif";
#else
    const char *traceFile = "dump.vcd";
#endif
    bool traceOn = false;
    bool traceFlush = false;
    bool coveragePerInstance = false;

    for (int i = 1; i < argc; i++) {
        std::string arg = std::string(argv[i]);
        if (arg == "--coverage-per-instance") {
#if VM_COVERAGE
            coveragePerInstance = true;
#else
            fprintf(stderr,
                    "Error: --coverage-per-instance requires the design to be "
                    "built with coverage support\n");
            return -1;
#endif
        } else if (arg == "--trace") {
#if VM_TRACE
            traceOn = true;
#else
            fprintf(stderr,
                    "Error: --trace requires the design to be built with trace "
                    "support\n");
            return -1;
#endif
        } else if (arg == "--trace-flush") {
            traceFlush = true;
        } else if (arg == "--trace-file") {
            if (++i < argc) {
                traceFile = argv[i];
            } else {
                fprintf(stderr, "Error: --trace-file requires a parameter\n");
                return -1;
            }
        } else if (arg == "--help") {
            fprintf(
                stderr,
                "usage: %s [--coverage-per-instance] [--trace] [--trace-flush] "
                "[--trace-file TRACEFILE]\n"
                "\n"
                "cocotb + Verilator sim\n"
                "\n"
                "options:\n"
                "  --coverage-per-instance  Force per-instance coverage "
                "(requires coverage build)\n"
                "  --trace                  Enable tracing (VCD, SAIF or FST)\n"
                "  --trace-flush            Flush trace at each time step "
                "(slow)\n"
                "  --trace-file             Specify the trace file name (%s by "
                "default)\n",
                basename(argv[0]), traceFile);
            return 0;
        }
    }

    Verilated::commandArgs(argc, argv);
#if VM_COVERAGE
    coverage_per_instance = coveragePerInstance;
#endif
#ifdef VERILATOR_SIM_DEBUG
    Verilated::debug(99);
#endif
    std::unique_ptr<Vtop> top(new Vtop(""));
    Verilated::fatalOnVpiError(false);  // otherwise it will fail on systemtf

#ifdef VERILATOR_SIM_DEBUG
    Verilated::internalsDump();
#endif

#if VM_TRACE
    Verilated::traceEverOn(true);
    if (traceOn) {
        tfp = new verilated_trace_t;
        top->trace(tfp, 99);
        tfp->open(traceFile);
    }
#endif

    vlog_startup_routines_bootstrap();
    Verilated::addExitCb([](void *) { wrap_up(); }, nullptr);
    VerilatedVpi::callCbs(cbStartOfSimulation);
    settle_value_callbacks();

    while (!Verilated::gotFinish()) {
        do {
            // We must evaluate whole design until we process all 'events' for
            // this time step
            do {
                clock_edge(top);
                top->eval_step();
                VerilatedVpi::clearEvalNeeded();
                VerilatedVpi::doInertialPuts();
                settle_value_callbacks();
            } while (VerilatedVpi::evalNeeded());

            // Run ReadWrite callback as we are done processing this eval step
            VerilatedVpi::callCbs(cbReadWriteSynch);
            VerilatedVpi::doInertialPuts();
            settle_value_callbacks();
        } while (VerilatedVpi::evalNeeded());

        top->eval_end_step();

        // Call ReadOnly callbacks
        VerilatedVpi::callCbs(cbReadOnlySynch);

#if VM_TRACE
        if (tfp) {
            tfp->dump(main_time);
            if (traceFlush) {
                tfp->flush();
            }
        }
#endif
        // cocotb controls the clock inputs using cbAfterDelay so
        // skip ahead to the next registered callback
        const vluint64_t NO_TOP_EVENTS_PENDING = static_cast<vluint64_t>(~0ULL);
        vluint64_t next_time_cocotb = VerilatedVpi::cbNextDeadline();
        vluint64_t next_time_timing =
            std::min(top->eventsPending() ? top->nextTimeSlot() : NO_TOP_EVENTS_PENDING,
                         clock_next_time());
        vluint64_t next_time = std::min(next_time_cocotb, next_time_timing);

        // If there are no more cbAfterDelay callbacks,
        // the next deadline is max value, so end the simulation now
        if (next_time == NO_TOP_EVENTS_PENDING) {
            break;
        } else {
            main_time = next_time;
        }

        // Call registered NextSimTime
        // It should be called in simulation cycle before everything else
        // but not on first cycle
        bool python_ran = VerilatedVpi::callCbs(cbNextSimTime);
        python_ran |= settle_value_callbacks();

        // DRTP fast path: if this slot has nothing for Python, run the model's own time slots (the
        // clock) up to the next timed callback without the VPI calls, which would all return
        // without calling anything. Only a callback can run Python, and only Python can register
        // callbacks or write signals, so what is checked here holds until that deadline: no
        // value-change, read-write or read-only callback, no pending write, and no cbNextSimTime
        // left (the call above moved every earlier one to its list and found none to call).
        if (!python_ran && next_time < next_time_cocotb && !VerilatedVpi::evalNeeded()
            && !VerilatedVpi::hasCbs(cbValueChange) && !VerilatedVpi::hasCbs(cbReadWriteSynch)
            && !VerilatedVpi::hasCbs(cbReadOnlySynch) && !VerilatedVpi::hasCbs(cbNextSimTime)) {
            while (next_time < next_time_cocotb && !Verilated::gotFinish()) {
                clock_edge(top);
                top->eval_step();
                top->eval_end_step();
#if VM_TRACE
                if (tfp) {
                    tfp->dump(main_time);
                    if (traceFlush) {
                        tfp->flush();
                    }
                }
#endif
                next_time_timing = std::min(top->eventsPending() ? top->nextTimeSlot() : NO_TOP_EVENTS_PENDING,
                                            clock_next_time());
                next_time = std::min(next_time_cocotb, next_time_timing);
                if (next_time == NO_TOP_EVENTS_PENDING) {
                    break;
                }
                main_time = next_time;
            }
            if (next_time != NO_TOP_EVENTS_PENDING) {
                // the slot at the deadline: offer cbNextSimTime as cocotb's loop does (none is there)
                VerilatedVpi::callCbs(cbNextSimTime);
                settle_value_callbacks();
            }
        }
        if (next_time == NO_TOP_EVENTS_PENDING) {
            break;
        }

        // Call registered timed callbacks (e.g. clock timer)
        // These are called at the beginning of the time step
        // before the iterative regions (IEEE 1800-2012 4.4.1)
        VerilatedVpi::callTimedCbs();
        settle_value_callbacks();
    }

    top->final();

    wrap_up();

#if VM_TRACE
    if (tfp) {
        delete tfp;
        tfp = nullptr;
    }
#endif

    // Fail the sim if any assertion/error fired during the run.
    if (Verilated::threadContextp()->errorCount() > 0) {
        return 1;
    }

    return 0;
}
