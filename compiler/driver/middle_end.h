// The compile pipeline after parsing: check and lower to the IR, optimize, then emit the
// IR, the summary or the backend's output. Kept apart from pipeline.cpp so the phases of
// the middle end are wired in one place; run_compile calls it once the AST is ready.
#pragma once

#include "driver/pipeline.h"

namespace triton::driver {

// Returns the process exit status (0, 1 for errors in the source, 2 for usage errors).
int run_middle_end(CompileSession& session);

}  // namespace triton::driver
