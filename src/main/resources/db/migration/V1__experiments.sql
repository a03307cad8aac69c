-- Experiments (DESIGN §8). Portable SQL: runs on H2 (the embedded default) and on PostgreSQL.
-- Times are epoch milliseconds; params and results are JSON text.

create table experiment (
    id          varchar(36)  not null primary key,
    kind        varchar(32)  not null,
    name        varchar(200),
    params      text         not null,
    -- queued | running | succeeded | failed | cancelled; cancelled is set here, the others follow the cells
    status      varchar(16)  not null,
    total_cells int          not null,
    created_at  bigint       not null,
    finished_at bigint
);
create index experiment_created on experiment (created_at);

-- One unit of work (one policy × budget × length …); each is one db-scheduler execution named by its id.
create table cell (
    id            varchar(36)  not null primary key,
    experiment_id varchar(36)  not null references experiment (id) on delete cascade,
    seq           int          not null,
    params        text         not null,
    status        varchar(16)  not null,
    error         text,
    attempts      int          not null default 0,
    started_at    bigint,
    finished_at   bigint,
    constraint cell_experiment_seq unique (experiment_id, seq)
);
create index cell_experiment on cell (experiment_id);

-- A finished cell's figures; the primary key makes a cell that ran twice (after a crash) store once.
create table result (
    cell_id       varchar(36)  not null primary key references cell (id) on delete cascade,
    experiment_id varchar(36)  not null references experiment (id) on delete cascade,
    result        text         not null,
    created_at    bigint       not null
);
create index result_experiment on result (experiment_id);

-- db-scheduler's table (its documented schema, portable form)
create table scheduled_tasks (
    task_name            varchar(100) not null,
    task_instance        varchar(100) not null,
    task_data            bytea,
    execution_time       timestamp with time zone not null,
    picked               boolean not null,
    picked_by            varchar(50),
    last_success         timestamp with time zone,
    last_failure         timestamp with time zone,
    consecutive_failures int,
    last_heartbeat       timestamp with time zone,
    version              bigint not null,
    priority             smallint,
    primary key (task_name, task_instance)
);
create index execution_time_idx on scheduled_tasks (execution_time);
create index last_heartbeat_idx on scheduled_tasks (last_heartbeat);
create index priority_execution_time_idx on scheduled_tasks (priority desc, execution_time asc);
