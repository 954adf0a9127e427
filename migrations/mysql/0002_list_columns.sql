-- A user's choice of columns for a model's list (issue 17), in order, as a JSON array of
-- column names; no row: the model's default (config `list`, else every column shown).
-- Read through the column rules each time: a name the user may no longer see is dropped.
CREATE TABLE moat_list_columns (
    user_id    BIGINT        NOT NULL,
    model      VARCHAR(255)  NOT NULL,
    names      TEXT          NOT NULL,
    PRIMARY KEY (user_id, model),
    FOREIGN KEY (user_id) REFERENCES moat_users(id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
