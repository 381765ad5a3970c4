-- The A/B split in force when each list was served: the API's variant weights, {"variant": weight},
-- the same for every list a process serves. The sample-ratio check compares the users who enter the
-- experiment with the split of the moment they entered, so that a split ramped during a period (1:9,
-- then 1:1) is not read as a broken assignment. Lists served before this column existed have none;
-- the check falls back to the configured split for them.
alter table raw.served_recommendations add column variant_weights jsonb;
