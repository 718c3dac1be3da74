//! `aws-front`: the emulator front (`infra/src/front.rs`) on a loopback port.
//!
//! ```text
//! aws-front --listen 127.0.0.1:5160 --dynamodb http://127.0.0.1:8100 --moto http://127.0.0.1:5150
//!           [--record .local/iam/calls.jsonl] [--quota-scale 1.0] [--ddb-throttle 0.02]
//! ```

use infra::front::{router, FrontConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut listen = "127.0.0.1:5160".to_string();
    let mut cfg = FrontConfig {
        dynamodb: "http://127.0.0.1:8100".into(),
        moto: "http://127.0.0.1:5150".into(),
        record: None,
        quota_scale: 1.0,
        ddb_throttle: 0.02,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = value,
            "--dynamodb" => cfg.dynamodb = value,
            "--moto" => cfg.moto = value,
            "--record" => cfg.record = Some(value.into()),
            "--quota-scale" => cfg.quota_scale = value.parse()?,
            "--ddb-throttle" => cfg.ddb_throttle = value.parse()?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let app = router(cfg)?;
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        eprintln!("aws-front on http://{listen}");
        axum::serve(listener, app).await?;
        Ok(())
    })
}
