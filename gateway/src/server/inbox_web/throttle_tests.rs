use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use governor::clock::FakeRelativeClock;

use super::*;

fn v4(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

#[test]
fn one_address_gets_its_burst_then_waits_for_the_next_attempt() {
    let clock = FakeRelativeClock::default();
    let limits = SignInLimits::with_clock(clock.clone());
    for _ in 0..PER_ADDRESS_BURST {
        limits.attempt(v4(1)).unwrap();
    }
    let refused = limits.attempt(v4(1)).unwrap_err();
    assert_eq!(refused.scope, Scope::Address);
    assert_eq!(refused.retry_after_secs, PER_ADDRESS_EVERY.as_secs());
    // Another address is not held back by it.
    limits.attempt(v4(2)).unwrap();
    clock.advance(PER_ADDRESS_EVERY);
    limits.attempt(v4(1)).unwrap();
    assert!(limits.attempt(v4(1)).is_err());
}

#[test]
fn many_addresses_together_meet_the_overall_limit() {
    let clock = FakeRelativeClock::default();
    let limits = SignInLimits::with_clock(clock.clone());
    let mut admitted = 0;
    let refused = loop {
        match limits.attempt(v4(admitted % 200)) {
            Ok(()) => admitted += 1,
            Err(r) => break r,
        }
    };
    assert_eq!(admitted, OVERALL_BURST as u8);
    assert_eq!(refused.scope, Scope::Overall);
    assert_eq!(refused.retry_after_secs, OVERALL_EVERY.as_secs());
    // A fresh address is refused too, until everyone's limit recovers.
    assert_eq!(limits.attempt(v4(250)).unwrap_err().scope, Scope::Overall);
    clock.advance(OVERALL_EVERY);
    limits.attempt(v4(250)).unwrap();
}

#[test]
fn an_ipv6_client_is_counted_by_its_64_and_a_mapped_ipv4_as_ipv4() {
    let clock = FakeRelativeClock::default();
    let limits = SignInLimits::with_clock(clock);
    for i in 0..PER_ADDRESS_BURST {
        let addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, i as u16 + 1);
        limits.attempt(IpAddr::V6(addr)).unwrap();
    }
    let same_64 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 9, 9, 9, 9));
    assert_eq!(limits.attempt(same_64).unwrap_err().scope, Scope::Address);
    limits
        .attempt(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1)))
        .unwrap();
    for _ in 0..PER_ADDRESS_BURST {
        limits.attempt(v4(7)).unwrap();
    }
    let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped());
    assert_eq!(limits.attempt(mapped).unwrap_err().scope, Scope::Address);
}
