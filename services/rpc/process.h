#pragma once

namespace bizrelay::rpc {

// Settings for a process that serves or calls gRPC, made once at the start of main. Turns off
// Abseil's mutex deadlock detection, which the distribution's Abseil build leaves on: it
// records a lock graph on every mutex gRPC takes, a debugging aid that costs several per cent
// of the CPU of each call.
void SetUpGrpcProcess();

}  // namespace bizrelay::rpc
