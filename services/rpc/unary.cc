#include "services/rpc/unary.h"

#include "services/rpc/status.h"

namespace bizrelay::rpc {

store::DbPool::Clock::time_point CallDeadline(const grpc::CallbackServerContext* ctx,
                                              std::chrono::milliseconds call_timeout) {
  auto now_steady = store::DbPool::Clock::now();
  auto deadline = now_steady + call_timeout;
  auto client = ctx->deadline();
  auto now_system = std::chrono::system_clock::now();
  if (client < now_system + call_timeout) {
    deadline = now_steady +
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(client - now_system);
  }
  return deadline;
}

grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* ctx, const RpcEnv& env,
                                   const std::function<void()>& check,
                                   std::function<void(pqxx::connection&)> work) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  try {
    if (check) check();
  } catch (const Error& e) {
    reactor->Finish(ToGrpcStatus(e));
    return reactor;
  }
  env.pool->Submit(
      [reactor, work = std::move(work)](pqxx::connection& conn) {
        work(conn);
        reactor->Finish(grpc::Status::OK);
      },
      [reactor](const Error& e) { reactor->Finish(ToGrpcStatus(e)); },
      CallDeadline(ctx, env.call_timeout));
  return reactor;
}

}  // namespace bizrelay::rpc
