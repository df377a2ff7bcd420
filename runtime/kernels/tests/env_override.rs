//! `GOVASSIST_KERNELS` forces a kernel. Alone in its test binary: the choice is made once per
//! process.

use govassist_kernels::{matmul, q8_0, Kernel, PackedMatrix};

#[test]
fn env_var_forces_the_portable_kernel() {
    std::env::set_var("GOVASSIST_KERNELS", "portable");
    assert_eq!(Kernel::selected(), Kernel::Portable);
    let w: Vec<f32> = (0..64).map(|i| i as f32 / 64.0).collect();
    let packed = PackedMatrix::from_q8_0(&q8_0::quantize(&w), 2, 32).unwrap();
    let mut out = [0f32; 2];
    matmul(&packed, &[1.0; 32], 1, &mut out, 1).unwrap();
    let expected: [f32; 2] = [w[..32].iter().sum(), w[32..].iter().sum()];
    for (o, e) in out.iter().zip(expected) {
        assert!((o - e).abs() <= 1e-2 * e.abs(), "{o} vs {e}");
    }
}
