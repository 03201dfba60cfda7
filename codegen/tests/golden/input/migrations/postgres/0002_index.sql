CREATE INDEX g_jobs_state_idx ON g_jobs (state, id);
