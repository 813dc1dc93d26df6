// WAVES=1 under Icarus: dump the whole bench top to the file named by +dumpfile=<path>.
// (cocotb's own dump module declares a SystemVerilog `string`; the benches compile with -g2005.)
`timescale 1ns / 1ps
module drtp_waves;
    reg [8*1024-1:0] path;
    initial begin
        if ($value$plusargs("dumpfile=%s", path)) $dumpfile(path);
        else $dumpfile("drtp_tb.fst");
        $dumpvars(0, drtp_tb);
    end
endmodule
