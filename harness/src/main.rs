fn main() {
    println!("{}", lockstep_core::smoke());
}
