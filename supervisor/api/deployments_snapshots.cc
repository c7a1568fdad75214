// Deployments.ExportSnapshot and ImportSnapshot: a deployment's data as Convex snapshot ZIP entries
// (storage/snapshot_export.h, snapshot_import.h), relayed to the member that serves it in a cluster.
#include <memory>
#include <string>

#include "base/log.h"
#include "storage/snapshot_export.h"
#include "storage/snapshot_import.h"
#include "supervisor/api/deployments_service.h"
#include "supervisor/runner/error_detail.h"
#include "supervisor/runner/file_storage.h"

namespace isobar::supervisor {
namespace {

constexpr char kComponent[] = "deployments";

}  // namespace

namespace {

// Export entries as SnapshotPart messages on the call's stream.
class StreamSink final : public storage::SnapshotSink {
 public:
  explicit StreamSink(grpc::ServerWriter<isobar::v1::SnapshotPart>& writer) : writer_(writer) {}
  absl::Status StartEntry(const std::string& path) override {
    isobar::v1::SnapshotPart part;
    part.set_path(path);
    return Send(part);
  }
  absl::Status Write(absl::string_view bytes) override {
    isobar::v1::SnapshotPart part;
    part.set_data(std::string(bytes));
    return Send(part);
  }

 private:
  absl::Status Send(const isobar::v1::SnapshotPart& part) {
    return writer_.Write(part) ? absl::OkStatus() : absl::CancelledError("the client went away");
  }
  grpc::ServerWriter<isobar::v1::SnapshotPart>& writer_;
};

}  // namespace

grpc::Status DeploymentsService::ExportSnapshot(grpc::ServerContext* context,
                                                const isobar::v1::ExportSnapshotRequest* request,
                                                grpc::ServerWriter<isobar::v1::SnapshotPart>* writer) {
  storage::DeploymentInfo info;
  if (grpc::Status admitted = Admit(*context, request->deployment(), &info); !admitted.ok()) return admitted;
  absl::StatusOr<std::optional<Route>> route = RouteElsewhere(*context, info.name);
  if (!route.ok()) return WithDetail(*context, route.status());
  if (route->has_value()) {  // relayed from the member that serves it
    grpc::ClientContext out;
    PrepareForward(*context, placement_->self().holder, out);
    std::unique_ptr<grpc::ClientReader<isobar::v1::SnapshotPart>> reader =
        isobar::v1::Deployments::NewStub(peers_->Channel((*route)->member.grpc_address))->ExportSnapshot(&out, *request);
    isobar::v1::SnapshotPart part;
    while (reader->Read(&part)) {
      if (!writer->Write(part)) out.TryCancel();
    }
    return Forwarded(*context, reader->Finish(), out, **route, info.name);
  }
  absl::StatusOr<std::shared_ptr<LiveDeployment>> live = live_.Get(info.name);
  if (!live.ok()) return WithDetail(*context, live.status());
  StreamSink sink(*writer);
  storage::ExportOptions options;
  options.files = !request->skip_files();
  absl::StatusOr<storage::ExportCounts> counts = storage::ExportSnapshot((*live)->db(), sink, options);
  if (!counts.ok()) {
    if (absl::IsCancelled(counts.status())) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
    return ToGrpc(*context, counts.status());
  }
  ISOBAR_LOG(kInfo, kComponent) << "deployment \"" << info.name << "\" exported: " << counts->tables << " tables, "
                                << counts->documents << " documents, " << counts->files << " files ("
                                << counts->file_bytes << " bytes)";
  return grpc::Status::OK;
}

grpc::Status DeploymentsService::ImportSnapshot(grpc::ServerContext* context,
                                                grpc::ServerReader<isobar::v1::SnapshotPart>* reader,
                                                isobar::v1::ImportSnapshotResponse* response) {
  isobar::v1::SnapshotPart part;
  if (!reader->Read(&part)) return WithDetail(*context, absl::InvalidArgumentError("an import names its deployment first"));
  storage::DeploymentInfo info;
  if (grpc::Status admitted = Admit(*context, part.deployment(), &info); !admitted.ok()) return admitted;
  absl::StatusOr<std::optional<Route>> route = RouteElsewhere(*context, info.name);
  if (!route.ok()) return WithDetail(*context, route.status());
  if (route->has_value()) {  // relayed to the member that serves it
    grpc::ClientContext out;
    PrepareForward(*context, placement_->self().holder, out);
    std::unique_ptr<grpc::ClientWriter<isobar::v1::SnapshotPart>> writer =
        isobar::v1::Deployments::NewStub(peers_->Channel((*route)->member.grpc_address))->ImportSnapshot(&out, response);
    bool open = writer->Write(part);
    while (open && reader->Read(&part)) open = writer->Write(part);
    writer->WritesDone();
    return Forwarded(*context, writer->Finish(), out, **route, info.name);
  }
  absl::StatusOr<std::shared_ptr<LiveDeployment>> live = live_.Get(info.name);
  if (!live.ok()) return WithDetail(*context, live.status());
  storage::SnapshotImporter importer((*live)->db(), {.file_quota = kDeploymentFileQuotaBytes});
  absl::Status imported;
  do {
    if (!part.path().empty()) imported = importer.StartEntry(part.path());
    if (imported.ok() && !part.data().empty()) imported = importer.Write(part.data());
  } while (imported.ok() && reader->Read(&part));
  absl::StatusOr<storage::ImportCounts> counts =
      imported.ok() ? importer.Finish() : absl::StatusOr<storage::ImportCounts>(imported);
  if (!counts.ok()) {
    // The snapshot's problems are the caller's to fix, and say where they are.
    ISOBAR_LOG(kWarning, kComponent) << "deployment \"" << info.name << "\": import failed: " << counts.status();
    return absl::IsInternal(counts.status()) || absl::IsUnavailable(counts.status())
               ? ToGrpc(*context, counts.status())
               : WithDetail(*context, counts.status());
  }
  response->set_tables(counts->tables);
  response->set_documents(counts->documents);
  response->set_files(counts->files);
  response->set_files_renumbered(counts->files_renumbered);
  response->set_file_bytes(counts->file_bytes);
  ISOBAR_LOG(kInfo, kComponent) << "deployment \"" << info.name << "\" imported: " << counts->tables << " tables, "
                                << counts->documents << " documents, " << counts->files << " files";
  return grpc::Status::OK;
}

}  // namespace isobar::supervisor
