// `triton run model.tpk --input x.npy [--output y.npy] [--threads N] [--bench N]`: the
// subcommand the compiler driver hands to the runtime, so the driver needs no runtime
// internals. Returns the process exit code; this is the one runtime entry point that
// writes to stdout/stderr, because it *is* a command line.
#pragma once

namespace triton_rt {

int run_command(int argc, char** argv);

}  // namespace triton_rt
