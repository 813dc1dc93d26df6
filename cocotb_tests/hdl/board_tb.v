// Bench top for the board core (rtl.board.core.BoardCore exported as `board_core`): clock and reset only.
//
// Named drtp_tb because simsetup.run_bench runs the top level simsetup.TB_TOP. The clock is made as in
// drtp_tb.v: an `always #HALF_PERIOD` under Icarus, the C++ main's toggle of `clk` under Verilator
// (DRTP_MAIN_CLOCK). The UART lines and the LEDs are the bench's; `rst` passes one flip-flop.
`timescale 1ns / 1ps
module drtp_tb #(
    parameter HALF_PERIOD = 5   // ns
) (
`ifdef DRTP_MAIN_CLOCK
    input  wire clk,
`endif
    input  wire rst,
    input  wire rx,
    output wire tx,
    output wire led_busy,
    output wire led_error,
    output wire led_rx,
    output wire led_tx
);
`ifndef DRTP_MAIN_CLOCK
    reg clk = 1'b0;
    always #HALF_PERIOD clk = ~clk;
`endif

    reg rst_q = 1'b1;
    always @(posedge clk) rst_q <= rst;

    board_core dut (
        .clk(clk), .rst(rst_q), .rx(rx), .tx(tx),
        .led_busy(led_busy), .led_error(led_error), .led_rx(led_rx), .led_tx(led_tx)
    );
endmodule
