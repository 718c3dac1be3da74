//! Prints the OpenAPI document of every area (`make openapi` writes it to
//! `functions/system/openapi.json`, which the system function serves).

fn main() {
    print!("{}", infra::openapi_json());
}
