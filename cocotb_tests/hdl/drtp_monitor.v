// Bench-side observers of the engine (instantiated by the bench top, drtp_tb.v). They only count and
// capture; the bench reads them at transaction boundaries (a sample's done, after a read-back), so
// Python never wakes on every edge and a protocol event in a cycle the bench sleeps through is
// still seen. Nothing here drives the engine.
`timescale 1ns / 1ps

// Stream and port protocol: every valid & ready handshake, every cycle `ready` is high while
// `busy`, and the strobes, counted from reset on (the bench compares differences).
module drtp_stream_monitor (
    input wire clk,
    input wire rst,
    input wire valid,
    input wire ready,
    input wire busy,
    input wire done,
    input wire pred_valid,
    input wire rvalid
);
    reg [31:0] handshakes = 32'd0;    // rising edges with valid & ready: beats the engine took
    reg [31:0] ready_busy = 32'd0;    // cycles with ready high while busy (the contract says never)
    reg [31:0] dones = 32'd0;
    reg [31:0] pred_valids = 32'd0;
    reg [31:0] rvalids = 32'd0;       // weight-port words returned
    always @(posedge clk) begin
        if (!rst) begin
            if (valid && ready) handshakes <= handshakes + 32'd1;
            if (ready && busy) ready_busy <= ready_busy + 32'd1;
            if (done) dones <= dones + 32'd1;
            if (pred_valid) pred_valids <= pred_valids + 32'd1;
            if (rvalid) rvalids <= rvalids + 32'd1;
        end
    end
endmodule

// One layer's post-processor output (Layer.o_post_*: one neuron per cycle): the pre-activation of
// every neuron index, and which indices were post-processed since the last `done`.
module drtp_post_probe #(
    parameter N = 4,        // neuron indices (lane groups * lanes: padding lanes included)
    parameter Z_W = 9,      // pre-activation bits
    parameter IDX_W = 8
) (
    input wire clk,
    input wire rst,
    input wire done,
    input wire valid,
    input wire [IDX_W-1:0] index,
    input wire [Z_W-1:0] z
);
    reg [N*Z_W-1:0] zs = {N*Z_W{1'b0}};
    reg [N-1:0] seen = {N{1'b0}};       // cleared by done: read it in the done cycle
    reg [31:0] count = 32'd0;            // post-processed cycles of this sample (duplicates show)
    always @(posedge clk) begin
        if (rst || done) begin
            seen <= {N{1'b0}};
            count <= 32'd0;
        end else if (valid) begin
            count <= count + 32'd1;
            if (index < N) begin
                zs[index*Z_W +: Z_W] <= z;
                seen[index] <= 1'b1;
            end
        end
    end
endmodule

// Words written into a per-group memory of a layer (its deltas, dense activations): the last word
// of every address, and which addresses were written since the last `done`.
module drtp_word_probe #(
    parameter DEPTH = 2,
    parameter W = 8,
    parameter A_W = 8
) (
    input wire clk,
    input wire rst,
    input wire done,
    input wire en,
    input wire [A_W-1:0] addr,
    input wire [W-1:0] data
);
    reg [DEPTH*W-1:0] words = {DEPTH*W{1'b0}};
    reg [DEPTH-1:0] seen = {DEPTH{1'b0}};
    always @(posedge clk) begin
        if (rst || done) begin
            seen <= {DEPTH{1'b0}};
        end else if (en && addr < DEPTH) begin
            words[addr*W +: W] <= data;
            seen[addr] <= 1'b1;
        end
    end
endmodule
