#include "supervisor/api/malformed_request.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "isobar/v1/api.pb.h"
#include "supervisor/runner/error_detail.h"

namespace isobar::supervisor {
namespace {

using grpc::experimental::InterceptionHookPoints;

class MalformedRequestInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit MalformedRequestInterceptor(std::string method) : method_(std::move(method)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      malformed_ = true;
    }
    // gRPC fails such a call with INTERNAL (synchronous handlers) or an empty UNIMPLEMENTED (callback
    // handlers, as if the method did not exist).
    const auto failed_parse = [](grpc::StatusCode code) {
      return code == grpc::StatusCode::INTERNAL || code == grpc::StatusCode::UNIMPLEMENTED;
    };
    if (malformed_ && methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        failed_parse(methods->GetSendStatus().error_code())) {
      isobar::v1::ErrorDetail detail;
      detail.set_kind(isobar::v1::ErrorDetail::INVALID_REQUEST);
      detail.set_message(absl::StrCat("the request is not a valid protobuf message for ", method_));
      detail.set_retryable(false);
      if (std::multimap<std::string, std::string>* trailers = methods->GetSendTrailingMetadata()) {
        trailers->emplace(kErrorDetailKey, detail.SerializeAsString());
      }
      methods->ModifySendStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, detail.message()));
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  bool malformed_ = false;
};

class MalformedRequestFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    if (info->type() != grpc::experimental::ServerRpcInfo::Type::UNARY) return nullptr;
    return new MalformedRequestInterceptor(info->method() != nullptr ? info->method() : "this method");
  }
};

}  // namespace

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> MalformedRequestInterceptors() {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<MalformedRequestFactory>());
  return creators;
}

}  // namespace isobar::supervisor
