#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <chrono>
#include <functional>

#include "services/store/db_pool.h"

namespace bizrelay::rpc {

// What every database-backed RPC needs from the server.
struct RpcEnv {
  store::DbPool* pool = nullptr;
  // Server-side cap on a call: the effective deadline is the earlier of the client's deadline
  // and now + call_timeout.
  std::chrono::milliseconds call_timeout{10000};
};

// Runs a unary RPC without blocking the gRPC thread: `check` runs at once on the calling
// thread (cheap validation; may throw bizrelay::Error), then `work` runs on a database worker.
// The reactor is finished with OK after `work` returns, or with the mapped status of whatever
// either threw. `work` may run more than once (see DbPool), so it must be one transaction.
grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* ctx, const RpcEnv& env,
                                   const std::function<void()>& check,
                                   std::function<void(pqxx::connection&)> work);

// The deadline a call gets on the server (see RpcEnv::call_timeout).
store::DbPool::Clock::time_point CallDeadline(const grpc::CallbackServerContext* ctx,
                                              std::chrono::milliseconds call_timeout);

}  // namespace bizrelay::rpc
