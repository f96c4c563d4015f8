//! Compiles the long double helper (see csrc/ldouble.c for why it is C).

fn main() {
    println!("cargo:rerun-if-changed=csrc/ldouble.c");
    cc::Build::new()
        .file("csrc/ldouble.c")
        .opt_level(2)
        .compile("respd_ldouble");
}
