// Where an action's fetch may connect (issue 19; SECURITY.md): a decision about the address actually
// connected to (after DNS, on every redirect hop), never about the text of a URL, so that no spelling
// of an address (decimal, octal, hex, IPv4-mapped IPv6, a name that resolves to it) gets around it.
//
//   EgressPolicy policy;                                   // the defaults: public addresses only
//   policy.allow.push_back(*ParseCidr("10.1.2.0/24"));     // the operator's grants
//   absl::Status ok = CheckEgress(policy, "api.example.com", *ParseIp("93.184.216.34"), 443);
//
// By default refused: loopback, private (RFC 1918, ULA), shared (CGNAT), link-local (with cloud
// metadata at 169.254.169.254), multicast, unspecified, broadcast and reserved ranges, IPv6 forms that
// embed an IPv4 address (mapped, compatible, NAT64, 6to4) classed as that address, the supervisor's
// own listeners and PostgreSQL, and ports the policy does not list. An operator's `allow` ranges and
// hosts lift the class refusals for what they cover; `deny` ranges and hosts refuse whatever the rest
// says; the supervisor's own endpoints are refused always.
#ifndef ISOBAR_SUPERVISOR_EGRESS_ADDRESS_POLICY_H_
#define ISOBAR_SUPERVISOR_EGRESS_ADDRESS_POLICY_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace isobar::supervisor {

// An IPv4 or IPv6 address; IPv4 held as ::ffff:a.b.c.d.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool v4 = false;  // given as IPv4 (for how it is written)

  std::string ToString() const;
  bool operator==(const IpAddress& other) const { return bytes == other.bytes; }
};

// Only the standard forms: dotted-quad IPv4 ("10.0.0.1") or IPv6 text; never "0x7f.1" or "2130706433"
// (those reach the check as the address a resolver made of them).
std::optional<IpAddress> ParseIp(absl::string_view text);

struct CidrRange {
  IpAddress base;
  int prefix = 128;  // in bits of the 128-bit form (an IPv4 /8 is 104)

  bool Contains(const IpAddress& address) const;
};
// "10.0.0.0/8", "fc00::/7", or one address.
absl::StatusOr<CidrRange> ParseCidr(absl::string_view text);

enum class AddressClass {
  kPublic,
  kLoopback,
  kPrivate,      // RFC 1918, ULA fc00::/7
  kShared,       // 100.64.0.0/10 (carrier-grade NAT)
  kLinkLocal,    // 169.254.0.0/16 (cloud metadata), fe80::/10
  kMulticast,
  kUnspecified,  // 0.0.0.0/8, ::
  kReserved,     // broadcast, 240.0.0.0/4, documentation, benchmarking, protocol assignments, site-local
};
// The class of `address`; an IPv6 address that embeds an IPv4 one has that one's class.
AddressClass Classify(const IpAddress& address);
absl::string_view ClassName(AddressClass address_class);

struct Endpoint {
  IpAddress address;
  uint16_t port = 0;
};

struct EgressPolicy {
  std::vector<CidrRange> allow;
  std::vector<CidrRange> deny;
  // Host names, exact ("api.example.com") or a domain and its subdomains ("*.example.com"), lower case.
  std::vector<std::string> allow_hosts;
  std::vector<std::string> deny_hosts;
  // Ports fetch may use; empty means 80 and 443 only.
  std::vector<uint16_t> ports;
  // The supervisor's own listeners and its PostgreSQL: refused whatever else says. An unspecified
  // address (0.0.0.0, ::) stands for every address of the machine: loopback, unspecified, and
  // `local_addresses` (the machine's own, from getifaddrs).
  std::vector<Endpoint> internal;
  std::vector<IpAddress> local_addresses;
};

// OK, or PERMISSION_DENIED saying what was refused and why, for a connection to `host` (as the URL
// names it) at `address`:`port`.
absl::Status CheckEgress(const EgressPolicy& policy, absl::string_view host, const IpAddress& address, uint16_t port);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_EGRESS_ADDRESS_POLICY_H_
