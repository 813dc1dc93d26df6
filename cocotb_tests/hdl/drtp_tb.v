// Bench top for the generated engine: the clock runs in the simulator, not in Python.
//
// Every port of `drtp_engine` (rtl.generate) is passed through with its width set by a
// parameter that the bench reads from the manifest; only `clk` is made here, so cocotb wakes
// at transaction boundaries and never drives a clock edge. Under Icarus the clock is the
// `always` below. Under Verilator (DRTP_MAIN_CLOCK defined) it is an input toggled by the C++
// main (hdl/verilator_main.cpp) every HALF_PERIOD: the same waveform, without --timing's
// coroutine per edge (a fifth of each cycle of the paper engine's model).
// `rst` reaches the engine through one flip-flop (a reset synchroniser, one cycle late): the
// engine's next-state logic then depends on registers only, not on a top-level input, so the
// Verilated model computes it once per clock edge, not again on every evaluation of the
// inputs (its "ico" region: about a sixth of each cycle of the paper engine).
`timescale 1ns / 1ps
module drtp_tb #(
    parameter PAYLOAD_W = 37,   // sample__payload
    parameter WORD_W = 32,      // wport__wdata / wport__rdata
    parameter ADDR_W = 10,      // wport__addr
    parameter LAYER_W = 1,      // wport__layer
    parameter PRED_W = 4,       // pred
    parameter HALF_PERIOD = 5   // ns
) (
`ifdef DRTP_MAIN_CLOCK
    input  wire                 clk,
`endif
    input  wire                 rst,
    input  wire                 sample__valid,
    output wire                 sample__ready,
    input  wire [PAYLOAD_W-1:0] sample__payload,
    output wire [PRED_W-1:0]    pred,
    output wire                 pred_valid,
    output wire                 busy,
    output wire                 done,
    input  wire [LAYER_W-1:0]   wport__layer,
    input  wire [ADDR_W-1:0]    wport__addr,
    input  wire [WORD_W-1:0]    wport__wdata,
    input  wire                 wport__we,
    input  wire                 wport__re,
    output wire [WORD_W-1:0]    wport__rdata,
    output wire                 wport__rvalid
);
`ifndef DRTP_MAIN_CLOCK
    reg clk = 1'b0;
    always #HALF_PERIOD clk = ~clk;
`endif

    reg rst_q = 1'b1;
    always @(posedge clk) rst_q <= rst;

    drtp_engine dut (
        .clk(clk), .rst(rst_q),
        .sample__valid(sample__valid), .sample__ready(sample__ready), .sample__payload(sample__payload),
        .pred(pred), .pred_valid(pred_valid), .busy(busy), .done(done),
        .wport__layer(wport__layer), .wport__addr(wport__addr), .wport__wdata(wport__wdata),
        .wport__we(wport__we), .wport__re(wport__re), .wport__rdata(wport__rdata),
        .wport__rvalid(wport__rvalid)
    );

    // Bench-side observers (hdl/drtp_monitor.v): counters and captures the bench reads at
    // transaction boundaries. The per-layer probes are written from the manifest by simsetup.
    drtp_stream_monitor mon (
        .clk(clk), .rst(rst_q), .valid(sample__valid), .ready(sample__ready), .busy(busy),
        .done(done), .pred_valid(pred_valid), .rvalid(wport__rvalid)
    );
`ifdef DRTP_PROBES
`include "drtp_probes.vh"
`endif
endmodule
