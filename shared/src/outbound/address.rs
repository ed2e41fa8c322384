//! Which IP addresses a request whose host an end user chose may reach: public unicast only.
//! Everything a deployment can reach that the internet cannot — loopback, private networks,
//! link-local (the cloud metadata service at 169.254.169.254 and fd00:ec2::254), carrier-grade
//! NAT, multicast, unspecified, reserved and documentation ranges — is refused, and IPv6 forms
//! that carry an IPv4 address (v4-mapped, v4-compatible, NAT64, 6to4) are judged by the IPv4
//! address inside. Spellings such as `0x7f000001`, `2130706433` or `0177.0.0.1` never reach
//! here as names: the URL parser turns them into the dotted address first.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address may not be reached, or `None` for a public unicast address.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], bits: u32) -> bool {
    let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "an unspecified (\"this network\") address"),
        ([10, 0, 0, 0], 8, "a private address"),
        ([100, 64, 0, 0], 10, "a carrier-grade NAT address"),
        ([127, 0, 0, 0], 8, "a loopback address"),
        (
            [169, 254, 0, 0],
            16,
            "a link-local address (the cloud metadata service)",
        ),
        ([172, 16, 0, 0], 12, "a private address"),
        ([192, 0, 0, 0], 24, "an IETF protocol address"),
        ([192, 0, 2, 0], 24, "a documentation address"),
        ([192, 88, 99, 0], 24, "a 6to4 relay address"),
        ([192, 168, 0, 0], 16, "a private address"),
        ([198, 18, 0, 0], 15, "a benchmarking address"),
        ([198, 51, 100, 0], 24, "a documentation address"),
        ([203, 0, 113, 0], 24, "a documentation address"),
        ([224, 0, 0, 0], 4, "a multicast address"),
        ([240, 0, 0, 0], 4, "a reserved or broadcast address"),
    ];
    RANGES
        .iter()
        .find(|(net, bits, _)| in_v4(ip, *net, *bits))
        .map(|(_, _, why)| *why)
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], bits: u32) -> bool {
    let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

/// The IPv4 address an IPv6 address carries, where the network may deliver it there.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if in_v6(ip, [0, 0, 0, 0, 0, 0xffff, 0, 0], 96)      // v4-mapped ::ffff:a.b.c.d
        || in_v6(ip, [0, 0, 0, 0, 0, 0, 0, 0], 96)        // v4-compatible ::a.b.c.d (deprecated)
        || in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) // NAT64 64:ff9b::a.b.c.d
        || in_v6(ip, [0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48)
    {
        return Some(low);
    }
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        // 6to4: 2002:AABB:CCDD::/48 carries a.b.c.d in bits 16..48.
        return Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    None
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip == Ipv6Addr::UNSPECIFIED {
        return Some("an unspecified address");
    }
    if ip == Ipv6Addr::LOCALHOST {
        return Some("a loopback address");
    }
    if let Some(v4) = embedded_v4(ip) {
        // `::` and `::1` are answered above; any other carrier is judged by what it carries.
        return non_public_v4(v4).or(if in_v6(ip, [0, 0, 0, 0, 0, 0, 0, 0], 96) {
            Some("a deprecated IPv4-compatible address")
        } else {
            None
        });
    }
    const RANGES: &[([u16; 8], u32, &str)] = &[
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "a discard-only address"),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "a Teredo address"),
        ([0x2001, 0x2, 0, 0, 0, 0, 0, 0], 48, "a benchmarking address"),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "a documentation address"),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "a documentation address"),
        ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "a segment-routing address"),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "a unique-local (private) address"),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "a link-local address"),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "a site-local address"),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "a multicast address"),
    ];
    if let Some((_, _, why)) = RANGES.iter().find(|(net, bits, _)| in_v6(ip, *net, *bits)) {
        return Some(why);
    }
    // Only global unicast (2000::/3) is routed on the internet.
    if !in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        return Some("a reserved address");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> bool {
        non_public(text.parse().unwrap()).is_some()
    }

    #[test]
    fn local_private_and_metadata_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "127.255.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "192.0.2.1",
            "::",
            "::1",
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fd00:ec2::254",
            "ff02::1",
            "fec0::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.1.2.3",
            "::127.0.0.1",
            "::8.8.8.8",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "2001::1",
            "100::1",
            "1::1",
        ] {
            assert!(refused(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "172.32.0.1",
            "172.15.255.255",
            "100.128.0.1",
            "100.63.255.255",
            "192.169.0.1",
            "169.255.0.1",
            "11.0.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:82a::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(
                !refused(ip),
                "{ip} must be allowed: {:?}",
                non_public(ip.parse().unwrap())
            );
        }
    }

    /// What the URL parser makes of unusual IPv4 spellings: the dotted address this module
    /// judges, so none of them is a way around it.
    #[test]
    fn unusual_spellings_reach_the_classifier_as_addresses() {
        for (spelling, dotted) in [
            ("0x7f000001", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("0177.0.0.1", "127.0.0.1"),
            ("0x7f.1", "127.0.0.1"),
            ("127.1", "127.0.0.1"),
            ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
            ("017700000001", "127.0.0.1"),
            ("[::ffff:7f00:1]", "::ffff:127.0.0.1"),
            ("[0:0:0:0:0:ffff:127.0.0.1]", "::ffff:127.0.0.1"),
        ] {
            let url = url::Url::parse(&format!("https://{spelling}/x")).unwrap();
            let ip: IpAddr = match url.host() {
                Some(url::Host::Ipv4(ip)) => ip.into(),
                Some(url::Host::Ipv6(ip)) => ip.into(),
                other => panic!("{spelling} parsed as {other:?}"),
            };
            assert_eq!(ip, dotted.parse::<IpAddr>().unwrap(), "{spelling}");
            assert!(non_public(ip).is_some(), "{spelling}");
        }
    }

    /// Property: an address is refused exactly when it lies in one of the listed IPv4 ranges,
    /// and an IPv4 address and its v4-mapped IPv6 form always get the same answer.
    #[test]
    fn v4_and_its_mapped_form_agree_over_many_addresses() {
        let mut x: u32 = 0x9e37_79b9;
        for _ in 0..200_000 {
            // xorshift32: cheap, deterministic, spread over the whole space.
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let v4 = Ipv4Addr::from(x);
            let mapped = v4.to_ipv6_mapped();
            assert_eq!(
                non_public(v4.into()).is_some(),
                non_public(mapped.into()).is_some(),
                "{v4} vs {mapped}"
            );
            let std_says_local = v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.is_documentation();
            if std_says_local {
                assert!(non_public(v4.into()).is_some(), "{v4}");
            }
        }
    }
}
