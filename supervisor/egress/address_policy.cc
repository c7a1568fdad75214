#include "supervisor/egress/address_policy.h"

#include <arpa/inet.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace isobar::supervisor {
namespace {

constexpr uint16_t kDefaultPorts[] = {80, 443};

IpAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress address;
  address.bytes[10] = 0xff;
  address.bytes[11] = 0xff;
  address.bytes[12] = a;
  address.bytes[13] = b;
  address.bytes[14] = c;
  address.bytes[15] = d;
  address.v4 = true;
  return address;
}

CidrRange V4Range(uint8_t a, uint8_t b, uint8_t c, uint8_t d, int bits) { return CidrRange{V4(a, b, c, d), 96 + bits}; }

CidrRange V6Range(absl::string_view text) { return *ParseCidr(text); }

bool IsMappedV4(const IpAddress& address) {
  return std::all_of(address.bytes.begin(), address.bytes.begin() + 10, [](uint8_t b) { return b == 0; }) &&
         address.bytes[10] == 0xff && address.bytes[11] == 0xff;
}

// The IPv4 address an IPv6 one carries, where it carries one a packet would reach: compatible
// (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::).
std::optional<IpAddress> EmbeddedV4(const IpAddress& address) {
  const auto& b = address.bytes;
  if (std::all_of(b.begin(), b.begin() + 12, [](uint8_t x) { return x == 0; })) {
    if (b[12] == 0 && b[13] == 0 && b[14] == 0 && b[15] <= 1) return std::nullopt;  // :: and ::1 are their own
    return V4(b[12], b[13], b[14], b[15]);
  }
  static const CidrRange kNat64 = V6Range("64:ff9b::/96");
  if (kNat64.Contains(address)) return V4(b[12], b[13], b[14], b[15]);
  if (b[0] == 0x20 && b[1] == 0x02) return V4(b[2], b[3], b[4], b[5]);
  return std::nullopt;
}

struct ClassRange {
  CidrRange range;
  AddressClass address_class;
};

const std::vector<ClassRange>& V4Classes() {
  static const auto* classes = new std::vector<ClassRange>{
      {V4Range(0, 0, 0, 0, 8), AddressClass::kUnspecified},
      {V4Range(10, 0, 0, 0, 8), AddressClass::kPrivate},
      {V4Range(100, 64, 0, 0, 10), AddressClass::kShared},
      {V4Range(127, 0, 0, 0, 8), AddressClass::kLoopback},
      {V4Range(169, 254, 0, 0, 16), AddressClass::kLinkLocal},
      {V4Range(172, 16, 0, 0, 12), AddressClass::kPrivate},
      {V4Range(192, 0, 0, 0, 24), AddressClass::kReserved},
      {V4Range(192, 0, 2, 0, 24), AddressClass::kReserved},
      {V4Range(192, 88, 99, 0, 24), AddressClass::kReserved},
      {V4Range(192, 168, 0, 0, 16), AddressClass::kPrivate},
      {V4Range(198, 18, 0, 0, 15), AddressClass::kReserved},
      {V4Range(198, 51, 100, 0, 24), AddressClass::kReserved},
      {V4Range(203, 0, 113, 0, 24), AddressClass::kReserved},
      {V4Range(224, 0, 0, 0, 4), AddressClass::kMulticast},
      {V4Range(240, 0, 0, 0, 4), AddressClass::kReserved},  // with 255.255.255.255
  };
  return *classes;
}

const std::vector<ClassRange>& V6Classes() {
  static const auto* classes = new std::vector<ClassRange>{
      {V6Range("::/128"), AddressClass::kUnspecified},
      {V6Range("::1/128"), AddressClass::kLoopback},
      {V6Range("64:ff9b:1::/48"), AddressClass::kReserved},
      {V6Range("100::/64"), AddressClass::kReserved},
      {V6Range("2001::/23"), AddressClass::kReserved},  // Teredo and other protocol assignments
      {V6Range("2001:db8::/32"), AddressClass::kReserved},
      {V6Range("fc00::/7"), AddressClass::kPrivate},
      {V6Range("fe80::/10"), AddressClass::kLinkLocal},
      {V6Range("fec0::/10"), AddressClass::kReserved},
      {V6Range("ff00::/8"), AddressClass::kMulticast},
  };
  return *classes;
}

// "*.example.com" covers example.com's subdomains and example.com; other patterns only themselves.
bool HostMatches(absl::string_view pattern, absl::string_view host) {
  if (absl::ConsumePrefix(&pattern, "*.")) return host == pattern || absl::EndsWith(host, absl::StrCat(".", pattern));
  return host == pattern;
}

bool AnyHostMatches(const std::vector<std::string>& patterns, absl::string_view host) {
  return std::any_of(patterns.begin(), patterns.end(), [host](const std::string& p) { return HostMatches(p, host); });
}

}  // namespace

std::string IpAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (IsMappedV4(*this)) {
    inet_ntop(AF_INET, bytes.data() + 12, text, sizeof(text));
  } else {
    inet_ntop(AF_INET6, bytes.data(), text, sizeof(text));
  }
  return text;
}

std::optional<IpAddress> ParseIp(absl::string_view text) {
  const std::string s(text);
  IpAddress address;
  in_addr v4;
  // inet_pton's IPv4 form is strict dotted-quad decimal: no octal, hex or short forms.
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    const auto* b = reinterpret_cast<const uint8_t*>(&v4.s_addr);
    return V4(b[0], b[1], b[2], b[3]);
  }
  if (inet_pton(AF_INET6, s.c_str(), address.bytes.data()) == 1) {
    address.v4 = false;
    return address;
  }
  return std::nullopt;
}

bool CidrRange::Contains(const IpAddress& address) const {
  const int whole = prefix / 8;
  if (!std::equal(base.bytes.begin(), base.bytes.begin() + whole, address.bytes.begin())) return false;
  const int rest = prefix % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (base.bytes[whole] & mask) == (address.bytes[whole] & mask);
}

absl::StatusOr<CidrRange> ParseCidr(absl::string_view text) {
  const size_t slash = text.find('/');
  std::optional<IpAddress> base = ParseIp(text.substr(0, slash));
  if (!base.has_value()) return absl::InvalidArgumentError(absl::StrCat("not an IP address or range: \"", text, "\""));
  int bits = base->v4 ? 32 : 128;
  if (slash != absl::string_view::npos &&
      (!absl::SimpleAtoi(text.substr(slash + 1), &bits) || bits < 0 || bits > (base->v4 ? 32 : 128))) {
    return absl::InvalidArgumentError(absl::StrCat("not a prefix length: \"", text, "\""));
  }
  CidrRange range{*base, base->v4 ? 96 + bits : bits};
  // The base's host bits are cleared, so that "10.1.2.3/8" means 10.0.0.0/8.
  for (int i = 0; i < 16; ++i) {
    const int keep = std::clamp(range.prefix - i * 8, 0, 8);
    range.base.bytes[i] &= static_cast<uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
  return range;
}

AddressClass Classify(const IpAddress& address) {
  if (IsMappedV4(address)) {
    for (const ClassRange& c : V4Classes()) {
      if (c.range.Contains(address)) return c.address_class;
    }
    return AddressClass::kPublic;
  }
  if (std::optional<IpAddress> embedded = EmbeddedV4(address)) return Classify(*embedded);
  for (const ClassRange& c : V6Classes()) {
    if (c.range.Contains(address)) return c.address_class;
  }
  return AddressClass::kPublic;
}

absl::string_view ClassName(AddressClass address_class) {
  switch (address_class) {
    case AddressClass::kPublic: return "a public address";
    case AddressClass::kLoopback: return "a loopback address";
    case AddressClass::kPrivate: return "a private address";
    case AddressClass::kShared: return "a shared (carrier-grade NAT) address";
    case AddressClass::kLinkLocal: return "a link-local address (cloud metadata lives there)";
    case AddressClass::kMulticast: return "a multicast address";
    case AddressClass::kUnspecified: return "an unspecified address";
    case AddressClass::kReserved: return "a reserved address";
  }
  return "an address";
}

absl::Status CheckEgress(const EgressPolicy& policy, absl::string_view host_text, const IpAddress& address,
                         uint16_t port) {
  const std::string host = absl::AsciiStrToLower(host_text);
  const std::string where = absl::StrCat(host, " (", address.ToString(), " port ", port, ")");
  auto refused = [&where](absl::string_view why) {
    return absl::PermissionDeniedError(absl::StrCat("fetch to ", where, " is not allowed: ", why));
  };
  // Itself, whatever any grant says.
  const bool local = Classify(address) == AddressClass::kLoopback || Classify(address) == AddressClass::kUnspecified ||
                     std::find(policy.local_addresses.begin(), policy.local_addresses.end(), address) !=
                         policy.local_addresses.end();
  for (const Endpoint& internal : policy.internal) {
    const AddressClass internal_class = Classify(internal.address);
    const bool any_address = internal_class == AddressClass::kUnspecified;
    if (internal.port == port && (internal.address == address || (any_address && local))) {
      return refused("it is this server's own endpoint");
    }
  }
  if (AnyHostMatches(policy.deny_hosts, host)) return refused("the deployment's egress policy denies this host");
  for (const CidrRange& range : policy.deny) {
    if (range.Contains(address)) return refused("the deployment's egress policy denies this address");
  }
  if (!policy.allow_hosts.empty() && !AnyHostMatches(policy.allow_hosts, host)) {
    return refused("the host is not one the deployment's egress policy allows");
  }
  // The address's class first: "it is loopback" says more than "the port is not allowed".
  const bool granted = std::any_of(policy.allow.begin(), policy.allow.end(),
                                   [&address](const CidrRange& range) { return range.Contains(address); });
  const AddressClass address_class = Classify(address);
  if (address_class != AddressClass::kPublic && !granted) {
    return refused(absl::StrCat("it is ", ClassName(address_class)));
  }
  const std::vector<uint16_t> ports = policy.ports.empty() ? std::vector<uint16_t>(std::begin(kDefaultPorts), std::end(kDefaultPorts))
                                                           : policy.ports;
  if (std::find(ports.begin(), ports.end(), port) == ports.end()) {
    return refused("the port is not one the deployment's egress policy allows");
  }
  return absl::OkStatus();
}

}  // namespace isobar::supervisor
