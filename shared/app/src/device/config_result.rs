//! `POST /v1/device/configuration/result`: an appliance reports what became of the
//! profile sections it was sent (SPEC 8), signed like every device request.

use rampart_domain::profile::{ConfigResultRequest, ConfigResultResponse};

use super::{DeviceAuth, DeviceService};
use crate::error::ApiError;
use crate::json_body;
use crate::profiles::results;

impl DeviceService {
    pub async fn config_result(
        &self,
        auth: &DeviceAuth,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<ConfigResultResponse, ApiError> {
        let now = self.clock.now();
        let (appliance, credential) = self.authenticate(auth, method, path, body, now).await?;
        let req: ConfigResultRequest = json_body::parse(body)?;
        req.validate()?;
        let answer =
            results::record(&*self.table, &credential.tenant, &appliance, &req, now).await?;
        tracing::info!(appliance = %appliance, recorded = answer.recorded,
            ignored = answer.ignored, "configuration result");
        Ok(answer)
    }
}
