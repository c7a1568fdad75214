// The address side of the SSRF guard: every refused class, in every spelling an address can reach
// the check in, and the operator's grants and denials.
#include "supervisor/egress/address_policy.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace isobar::supervisor {
namespace {

using ::testing::HasSubstr;

IpAddress Ip(absl::string_view text) {
  std::optional<IpAddress> address = ParseIp(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(IpAddress{});
}

TEST(AddressPolicyTest, ParsesOnlyStandardForms) {
  EXPECT_EQ(Ip("10.0.0.1").ToString(), "10.0.0.1");
  EXPECT_EQ(Ip("::FFFF:127.0.0.1").ToString(), "127.0.0.1") << "an IPv4-mapped address is that IPv4 address";
  EXPECT_EQ(Ip("2001:DB8::1").ToString(), "2001:db8::1");
  // What a resolver or URL parser may accept is not an address here: the check sees what it made.
  for (const char* text : {"2130706433", "0x7f.0.0.1", "0177.0.0.1", "127.1", "127.0.0.1.", "1.2.3.4/8", "", "::g"}) {
    EXPECT_FALSE(ParseIp(text).has_value()) << text;
  }
}

TEST(AddressPolicyTest, ClassifiesEveryRefusedRange) {
  struct Case {
    const char* address;
    AddressClass expected;
  };
  for (const Case& c : std::vector<Case>{
           {"93.184.216.34", AddressClass::kPublic},
           {"2606:2800:220:1:248:1893:25c8:1946", AddressClass::kPublic},
           {"127.0.0.1", AddressClass::kLoopback},
           {"127.255.255.254", AddressClass::kLoopback},
           {"::1", AddressClass::kLoopback},
           {"10.1.2.3", AddressClass::kPrivate},
           {"172.16.0.1", AddressClass::kPrivate},
           {"172.31.255.255", AddressClass::kPrivate},
           {"172.32.0.1", AddressClass::kPublic},
           {"192.168.1.1", AddressClass::kPrivate},
           {"fc00::1", AddressClass::kPrivate},
           {"fd12:3456::1", AddressClass::kPrivate},
           {"100.64.0.1", AddressClass::kShared},
           {"169.254.169.254", AddressClass::kLinkLocal},
           {"fe80::1", AddressClass::kLinkLocal},
           {"224.0.0.1", AddressClass::kMulticast},
           {"ff02::1", AddressClass::kMulticast},
           {"0.0.0.0", AddressClass::kUnspecified},
           {"0.1.2.3", AddressClass::kUnspecified},
           {"::", AddressClass::kUnspecified},
           {"255.255.255.255", AddressClass::kReserved},
           {"240.0.0.1", AddressClass::kReserved},
           {"192.0.2.1", AddressClass::kReserved},
           {"198.18.0.1", AddressClass::kReserved},
           {"2001:db8::1", AddressClass::kReserved},
           {"2001:0:4136:e378::1", AddressClass::kReserved},  // Teredo
           {"fec0::1", AddressClass::kReserved},
           // IPv6 forms that carry an IPv4 address are that address.
           {"::ffff:127.0.0.1", AddressClass::kLoopback},
           {"::ffff:169.254.169.254", AddressClass::kLinkLocal},
           {"::127.0.0.1", AddressClass::kLoopback},
           {"::10.0.0.1", AddressClass::kPrivate},
           {"64:ff9b::10.0.0.1", AddressClass::kPrivate},
           {"64:ff9b::93.184.216.34", AddressClass::kPublic},
           {"2002:7f00:1::", AddressClass::kLoopback},  // 6to4 of 127.0.0.1
           {"2002:a9fe:a9fe::1", AddressClass::kLinkLocal},
       }) {
    EXPECT_EQ(Classify(Ip(c.address)), c.expected) << c.address;
  }
}

TEST(AddressPolicyTest, RefusesByDefaultWithTheReason) {
  const EgressPolicy defaults;
  EXPECT_TRUE(CheckEgress(defaults, "example.com", Ip("93.184.216.34"), 443).ok());
  EXPECT_TRUE(CheckEgress(defaults, "example.com", Ip("93.184.216.34"), 80).ok());
  absl::Status port = CheckEgress(defaults, "example.com", Ip("93.184.216.34"), 22);
  EXPECT_TRUE(absl::IsPermissionDenied(port));
  EXPECT_THAT(port.message(), HasSubstr("the port is not one the deployment's egress policy allows"));
  absl::Status metadata = CheckEgress(defaults, "metadata.google.internal", Ip("169.254.169.254"), 80);
  EXPECT_EQ(metadata.message(),
            "fetch to metadata.google.internal (169.254.169.254 port 80) is not allowed: it is a link-local address "
            "(cloud metadata lives there)");
  // A public name that resolves to a private address is refused on the address.
  absl::Status rebound = CheckEgress(defaults, "rebind.example.com", Ip("::ffff:10.0.0.5"), 443);
  EXPECT_THAT(rebound.message(), HasSubstr("10.0.0.5 port 443) is not allowed: it is a private address"));
}

TEST(AddressPolicyTest, GrantsDenialsHostsAndTheServerItself) {
  EgressPolicy policy;
  policy.allow.push_back(*ParseCidr("127.0.0.1/32"));
  policy.allow.push_back(*ParseCidr("10.9.0.0/16"));
  policy.ports = {80, 443, 8080};
  policy.deny.push_back(*ParseCidr("10.9.9.0/24"));
  policy.deny_hosts = {"*.blocked.example"};
  policy.internal = {{Ip("0.0.0.0"), 7700}, {Ip("10.9.1.1"), 5432}};
  policy.local_addresses = {Ip("10.9.1.1")};
  EXPECT_TRUE(CheckEgress(policy, "localhost", Ip("127.0.0.1"), 8080).ok()) << "granted";
  EXPECT_TRUE(CheckEgress(policy, "svc", Ip("10.9.3.4"), 443).ok()) << "granted";
  EXPECT_FALSE(CheckEgress(policy, "localhost", Ip("127.0.0.2"), 8080).ok()) << "outside the grant";
  EXPECT_THAT(CheckEgress(policy, "svc", Ip("10.9.9.9"), 443).message(), HasSubstr("denies this address"));
  EXPECT_THAT(CheckEgress(policy, "a.blocked.example", Ip("93.184.216.34"), 443).message(), HasSubstr("denies this host"));
  EXPECT_THAT(CheckEgress(policy, "BLOCKED.example", Ip("93.184.216.34"), 443).message(), HasSubstr("denies this host"));
  // The server's own listeners and PostgreSQL, however they are reached, even where a grant covers them.
  for (const char* address : {"127.0.0.1", "10.9.1.1", "::ffff:127.0.0.1"}) {
    EXPECT_THAT(CheckEgress(policy, "me", Ip(address), 7700).message(), HasSubstr("this server's own endpoint")) << address;
  }
  EXPECT_THAT(CheckEgress(policy, "db", Ip("10.9.1.1"), 5432).message(), HasSubstr("this server's own endpoint"));
  // An allowlist of hosts admits those only.
  policy.allow_hosts = {"api.example.com", "*.partner.example"};
  EXPECT_TRUE(CheckEgress(policy, "api.example.com", Ip("93.184.216.34"), 443).ok());
  EXPECT_TRUE(CheckEgress(policy, "x.partner.example", Ip("93.184.216.34"), 443).ok());
  EXPECT_TRUE(CheckEgress(policy, "partner.example", Ip("93.184.216.34"), 443).ok());
  EXPECT_THAT(CheckEgress(policy, "other.example.com", Ip("93.184.216.34"), 443).message(),
              HasSubstr("not one the deployment's egress policy allows"));
  EXPECT_FALSE(CheckEgress(policy, "evilpartner.example", Ip("93.184.216.34"), 443).ok());
}

TEST(AddressPolicyTest, CidrRanges) {
  EXPECT_TRUE(ParseCidr("10.1.2.3/8")->Contains(Ip("10.200.0.1"))) << "host bits are ignored";
  EXPECT_FALSE(ParseCidr("10.0.0.0/8")->Contains(Ip("11.0.0.1")));
  EXPECT_TRUE(ParseCidr("fc00::/7")->Contains(Ip("fdff::1")));
  EXPECT_FALSE(ParseCidr("fc00::/7")->Contains(Ip("fe00::1")));
  EXPECT_TRUE(ParseCidr("0.0.0.0/0")->Contains(Ip("8.8.8.8")));
  EXPECT_FALSE(ParseCidr("0.0.0.0/0")->Contains(Ip("2001:4860::8888"))) << "an IPv4 range holds IPv4 addresses only";
  EXPECT_TRUE(ParseCidr("::/0")->Contains(Ip("8.8.8.8"))) << "all of IPv6 includes the mapped IPv4 addresses";
  for (const char* bad : {"10.0.0.0/33", "fc00::/129", "10.0.0.0/x", "host/8", "10.0.0.0/-1"}) {
    EXPECT_FALSE(ParseCidr(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace isobar::supervisor
