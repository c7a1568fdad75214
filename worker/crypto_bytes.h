// Byte arguments and results of the crypto bindings (crypto_bindings.h, pkey_bindings.h): the prelude
// passes Uint8Arrays in and gets ArrayBuffers back.
#ifndef ISOBAR_WORKER_CRYPTO_BYTES_H_
#define ISOBAR_WORKER_CRYPTO_BYTES_H_

#include <cstddef>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"
#include "v8-array-buffer.h"
#include "v8-typed-array.h"

namespace isobar::worker {

// A view of a Uint8Array's bytes, valid while the array is alive and not detached.
struct Bytes {
  const unsigned char* data = nullptr;
  size_t size = 0;

  absl::string_view view() const { return {reinterpret_cast<const char*>(data), size}; }
};

// False when `value` is not a Uint8Array.
inline bool BytesOf(v8::Local<v8::Value> value, Bytes* out) {
  if (!value->IsUint8Array()) return false;
  v8::Local<v8::Uint8Array> array = value.As<v8::Uint8Array>();
  out->data = static_cast<const unsigned char*>(array->Buffer()->GetBackingStore()->Data()) + array->ByteOffset();
  out->size = array->ByteLength();
  return true;
}

inline v8::Local<v8::ArrayBuffer> NewArrayBuffer(v8::Isolate* isolate, const unsigned char* data, size_t size) {
  v8::Local<v8::ArrayBuffer> buffer = v8::ArrayBuffer::New(isolate, size);
  if (size > 0) std::memcpy(buffer->GetBackingStore()->Data(), data, size);
  return buffer;
}

inline v8::Local<v8::ArrayBuffer> NewArrayBuffer(v8::Isolate* isolate, absl::string_view bytes) {
  return NewArrayBuffer(isolate, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_CRYPTO_BYTES_H_
