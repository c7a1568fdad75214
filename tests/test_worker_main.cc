// A worker binary for tests only: the production worker plus test-only operations, so that tests can
// make a sandboxed worker attempt things user JavaScript cannot reach. It is never shipped: only
// //tests may depend on it (STYLE.md convention 2).
//
//   __isobarTest.execve()   calls execve("/bin/sh") from native code (the filter must kill us)
//   __isobarTest.spin(s)    busy native work for s seconds, which the watchdog cannot stop
//   __isobarTest.writeChannel(s)  writes s's bytes (each character's low 8 bits) to the supervisor
//                           channel as they are, as a compromised worker could
#include <time.h>
#include <unistd.h>

#include <string>

#include "v8-context.h"
#include "v8-function.h"
#include "v8-object.h"
#include "v8-primitive.h"
#include "v8-template.h"
#include "worker/worker_main.h"

namespace {

void Execve(const v8::FunctionCallbackInfo<v8::Value>& info) {
  char sh[] = "/bin/sh";
  char* argv[] = {sh, nullptr};
  char* envp[] = {nullptr};
  execve(sh, argv, envp);
  info.GetReturnValue().Set(v8::String::NewFromUtf8Literal(info.GetIsolate(), "execve returned"));
}

void Spin(const v8::FunctionCallbackInfo<v8::Value>& info) {
  const double seconds = info.Length() > 0 && info[0]->IsNumber() ? info[0].As<v8::Number>()->Value() : 0;
  auto now = [] {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
  };
  const double end = now() + seconds;
  while (now() < end) {
  }
}

void WriteChannel(const v8::FunctionCallbackInfo<v8::Value>& info) {
  if (info.Length() < 1 || !info[0]->IsString()) return;
  v8::Local<v8::String> text = info[0].As<v8::String>();
  std::string bytes(static_cast<size_t>(text->Length()), '\0');
  text->WriteOneByte(info.GetIsolate(), reinterpret_cast<uint8_t*>(bytes.data()));
  const ssize_t written = write(3, bytes.data(), bytes.size());  // sandbox/spawn.h: kWorkerChannelFd
  info.GetReturnValue().Set(static_cast<double>(written));
}

void InstallTestOps(v8::Isolate* isolate, v8::Local<v8::Context> context) {
  v8::Local<v8::Object> ops = v8::Object::New(isolate);
  ops->Set(context, v8::String::NewFromUtf8Literal(isolate, "execve"),
           v8::FunctionTemplate::New(isolate, Execve)->GetFunction(context).ToLocalChecked())
      .Check();
  ops->Set(context, v8::String::NewFromUtf8Literal(isolate, "spin"),
           v8::FunctionTemplate::New(isolate, Spin)->GetFunction(context).ToLocalChecked())
      .Check();
  ops->Set(context, v8::String::NewFromUtf8Literal(isolate, "writeChannel"),
           v8::FunctionTemplate::New(isolate, WriteChannel)->GetFunction(context).ToLocalChecked())
      .Check();
  context->Global()->Set(context, v8::String::NewFromUtf8Literal(isolate, "__isobarTest"), ops).Check();
}

}  // namespace

int main(int argc, char** argv) { return isobar::worker::WorkerMain(argc, argv, {InstallTestOps}); }
