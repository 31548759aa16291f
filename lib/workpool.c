#include "fb.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "workpool.h"

struct wp_job {
	STAILQ_ENTRY(wp_job) link;
	workpool_fn *work, *done;
	void *arg;
	struct workpool_inbox *inbox;
};

STAILQ_HEAD(wp_jobq, wp_job);

struct workpool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct wp_jobq todo;
	int queued, queue_max, nthreads;
	atomic_int depth;
	bool stopping;
	pthread_t *threads;
};

struct workpool_inbox {
	pthread_mutex_t mu;
	struct wp_jobq done;
	struct event *ev;
};

static void *
worker_main(void *arg)
{
	struct workpool *wp = arg;
	struct wp_job *job;

	for (;;) {
		pthread_mutex_lock(&wp->mu);
		while (STAILQ_EMPTY(&wp->todo) && !wp->stopping)
			pthread_cond_wait(&wp->cv, &wp->mu);
		job = STAILQ_FIRST(&wp->todo);
		if (job == NULL) {
			pthread_mutex_unlock(&wp->mu);
			return NULL;
		}
		STAILQ_REMOVE_HEAD(&wp->todo, link);
		wp->queued--;
		atomic_store(&wp->depth, wp->queued);
		pthread_mutex_unlock(&wp->mu);

		job->work(job->arg);

		pthread_mutex_lock(&job->inbox->mu);
		STAILQ_INSERT_TAIL(&job->inbox->done, job, link);
		pthread_mutex_unlock(&job->inbox->mu);
		event_active(job->inbox->ev, EV_READ, 1);
	}
}

struct workpool *
workpool_new(int threads, int queue_max)
{
	struct workpool *wp = fb_calloc(1, sizeof(*wp));
	int i;

	pthread_mutex_init(&wp->mu, NULL);
	pthread_cond_init(&wp->cv, NULL);
	STAILQ_INIT(&wp->todo);
	wp->queue_max = queue_max;
	wp->nthreads = threads;
	wp->threads = fb_calloc((size_t)threads, sizeof(pthread_t));
	for (i = 0; i < threads; i++)
		if (pthread_create(&wp->threads[i], NULL, worker_main, wp) != 0)
			fb_fatal("workpool: cannot start thread %d", i);
	return wp;
}

void
workpool_free(struct workpool *wp)
{
	int i;

	if (wp == NULL)
		return;
	pthread_mutex_lock(&wp->mu);
	wp->stopping = true;
	pthread_cond_broadcast(&wp->cv);
	pthread_mutex_unlock(&wp->mu);
	for (i = 0; i < wp->nthreads; i++)
		pthread_join(wp->threads[i], NULL);
	pthread_mutex_destroy(&wp->mu);
	pthread_cond_destroy(&wp->cv);
	free(wp->threads);
	free(wp);
}

/* Runs the completions of this loop's finished jobs, oldest first. */
static void
inbox_cb(evutil_socket_t fd, short what, void *arg)
{
	struct workpool_inbox *in = arg;
	struct wp_job *job;

	FB_UNUSED(fd);
	FB_UNUSED(what);
	for (;;) {
		pthread_mutex_lock(&in->mu);
		job = STAILQ_FIRST(&in->done);
		if (job != NULL)
			STAILQ_REMOVE_HEAD(&in->done, link);
		pthread_mutex_unlock(&in->mu);
		if (job == NULL)
			break;
		job->done(job->arg);
		free(job);
	}
}

struct workpool_inbox *
workpool_inbox_new(struct event_base *base)
{
	struct workpool_inbox *in = fb_calloc(1, sizeof(*in));

	pthread_mutex_init(&in->mu, NULL);
	STAILQ_INIT(&in->done);
	in->ev = event_new(base, -1, 0, inbox_cb, in);
	return in;
}

void
workpool_inbox_free(struct workpool_inbox *in)
{
	struct wp_job *job;

	if (in == NULL)
		return;
	while ((job = STAILQ_FIRST(&in->done)) != NULL) {
		STAILQ_REMOVE_HEAD(&in->done, link);
		job->done(job->arg);
		free(job);
	}
	event_free(in->ev);
	pthread_mutex_destroy(&in->mu);
	free(in);
}

int
workpool_submit(struct workpool *wp, struct workpool_inbox *in,
    workpool_fn *work, workpool_fn *done, void *arg)
{
	struct wp_job *job;

	pthread_mutex_lock(&wp->mu);
	if (wp->queued >= wp->queue_max || wp->stopping) {
		pthread_mutex_unlock(&wp->mu);
		return -1;
	}
	job = fb_malloc(sizeof(*job));
	job->work = work;
	job->done = done;
	job->arg = arg;
	job->inbox = in;
	STAILQ_INSERT_TAIL(&wp->todo, job, link);
	wp->queued++;
	atomic_store(&wp->depth, wp->queued);
	pthread_cond_signal(&wp->cv);
	pthread_mutex_unlock(&wp->mu);
	return 0;
}

int
workpool_depth(struct workpool *wp)
{
	return atomic_load(&wp->depth);
}
